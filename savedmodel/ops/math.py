"""Elementwise math, comparisons, reductions, matrix products and casts."""

from __future__ import annotations

import functools
import math as pymath
from collections.abc import Callable
from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError
from savedmodel.format import dtypes as tfdtypes
from savedmodel.ops import _buffers as buffers
from savedmodel.ops import _eigen_x86 as eigen_x86
from savedmodel.ops._common import (
    FLOATS,
    FUSABLE_FLOATS,
    INTS,
    NUMERIC,
    OBJECT,
    arrays_of,
    as_dtype,
    broadcast_shape,
    check_broadcast,
    contiguous,
    fail,
    float_op,
    highest,
    is_bfloat16,
    is_float,
    is_int,
    lowest,
    normalize_axis,
    reduction_axes,
    shape_str,
    upcast,
)
from savedmodel.ops._gemm_order import matmul as tf_order_matmul
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory

FAMILY_NOTES = (
    "Half-precision types (float16, bfloat16) are computed in float32 and rounded, as "
    "TensorFlow's CPU kernels do; sums of integers keep their type and wrap."
)
# How kernels differ from TensorFlow's (docs/ops.md), for those registered through notes=NOTES.
NOTES: dict[str, str] = {
    "Round": "half to even; integer inputs give zeros, as TensorFlow's CPU kernel does",
    "Maximum": "NaN propagates",
    "Minimum": "NaN propagates",
    "Max": "NaN propagates; empty reductions give -inf / the type's lowest value",
    "Min": "NaN propagates; empty reductions give +inf / the type's highest value",
    "ArgMax": "NaN never wins; ties go to the first index",
    "ArgMin": "NaN never wins; ties go to the first index",
    "FloorDiv": "integer division by zero raises",
    "FloorMod": "integer division by zero raises",
    "TruncateDiv": "integer division by zero raises",
    "TruncateMod": "integer division by zero raises",
    "Div": "integers: C-style truncating division",
    "Mod": "truncating (sign of the dividend)",
    "LeftShift": "shift amounts clamped to [0, bits-1]",
    "RightShift": "shift amounts clamped to [0, bits-1]",
}

SCIPY_HINT = "pip install 'savedmodel[special]'"


@functools.cache
def _scipy_special() -> Any | None:
    """scipy.special, imported on first use (it costs ~0.5 s), or None when SciPy is absent."""
    try:
        from scipy import special
    except ImportError:
        return None
    return special


def _require_scipy(node: NodeSpec) -> Any:
    """scipy.special for a kernel that needs it; without SciPy the model fails when it is
    prepared (at load), naming the extra that installs it."""
    special = _scipy_special()
    if special is None:
        raise ExecutionError(
            f"{node.op} needs SciPy, which is not installed: {SCIPY_HINT}", node.name, node.op
        )
    return special


# --------------------------------------------------------------------------- binary


BinaryFn = Callable[[np.ndarray, np.ndarray], Any]
BinaryKernel = Callable[[Any, np.ndarray, np.ndarray], np.ndarray]


def _binary(fn: BinaryFn) -> BinaryKernel:
    """An elementwise binary kernel: check broadcasting, compute half types in float32."""
    ufunc = _POOLED_UFUNCS.get(fn)

    def run(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        shape = check_broadcast(x, y)
        dtype = x.dtype
        if dtype.kind in "iub":  # integer array ops wrap silently; no NumPy warnings to silence
            return as_dtype(fn(x, y), dtype)
        with np.errstate(all="ignore"):
            pooled = ufunc is not None and dtype in FUSABLE_FLOATS and buffers.pools(shape, dtype)
            if pooled and arrays_of(dtype, (x, y)):
                return ufunc(x, y, out=buffers.empty(shape, dtype))  # large results: reused memory
            out = fn(upcast(x), upcast(y))
        return as_dtype(out, dtype)

    return run


def _add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "O":
        return _string_concat(x, y)
    return np.add(x, y)


# Float kernels that are one ufunc: they write into an output from savedmodel/ops/_buffers.py.
_POOLED_UFUNCS: dict[Any, np.ufunc] = {
    _add: np.add,
    np.subtract: np.subtract,
    np.multiply: np.multiply,
    np.true_divide: np.true_divide,
}


def _register_binary(op: str, fn: Callable[[np.ndarray, np.ndarray], Any], types: tuple[str, ...]) -> None:
    kernel(op, family="math", dtypes=types, notes=NOTES, doc=f"elementwise {op} with broadcasting")(
        _binary(fn)
    )


def _string_concat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    bx, by = np.broadcast_arrays(x, y)
    out = np.empty(bx.shape, dtype=object)
    for idx in np.ndindex(bx.shape):
        out[idx] = bytes(bx[idx]) + bytes(by[idx])
    return out


def _check_int_divisor(x: np.ndarray, y: np.ndarray) -> None:
    """TensorFlow fails an integer division when it divides by zero; an empty result divides nothing
    (tf.gradients of a reduction over a scalar computes `range(0) % 0`)."""
    if not is_int(y.dtype) or not np.any(y == 0):
        return
    if pymath.prod(np.broadcast_shapes(np.shape(x), np.shape(y))):
        fail("Integer division by zero")


def _div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Div: C-style truncating division for integers, true division for floats."""
    if is_int(x.dtype):
        return _truncate_div(x, y)
    return np.true_divide(x, y)


def _truncate_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if not is_int(x.dtype):
        return np.trunc(np.true_divide(x, y))
    _check_int_divisor(x, y)
    q = np.floor_divide(x, y)
    r = np.remainder(x, y)
    # floor -> trunc: add one where the signs differ and the division is inexact
    return q + ((r != 0) & ((x < 0) != (y < 0))).astype(x.dtype)


def _floor_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if is_int(x.dtype):
        _check_int_divisor(x, y)
        return np.floor_divide(x, y)
    return np.floor(np.true_divide(x, y))


def _floor_mod(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if is_int(x.dtype):
        _check_int_divisor(x, y)
        return np.remainder(x, y)
    r = np.fmod(x, y)
    fix = (r != 0) & ((r < 0) != (y < 0))
    return np.where(fix, r + y, r)


def _truncate_mod(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if is_int(x.dtype):
        _check_int_divisor(x, y)
    return np.fmod(x, y)


def _real_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if is_int(x.dtype):
        return _truncate_div(x, y)
    return np.true_divide(x, y)


def _div_no_nan(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    safe = np.where(y == 0, np.ones_like(y), y)
    return np.where(y == 0, np.zeros_like(x), np.true_divide(x, safe))


def _mul_no_nan(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(y == 0, np.zeros_like(x), np.multiply(x, y))


def _pow(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if is_int(x.dtype):
        if np.any(y < 0):
            fail("Integers to negative integer powers are not allowed")
        return np.power(x, y)
    return np.power(x, y)


def _maximum(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.maximum(x, y)  # propagates NaN, as TensorFlow does


def _minimum(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.minimum(x, y)


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(x == 0, np.zeros_like(x * y), x * np.log(y))


def _xlog1py(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(x == 0, np.zeros_like(x * y), x * np.log1p(y))


def _xdivy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(x == 0, np.zeros_like(x * y), x / y)


def _shift_amount(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    bits = x.dtype.itemsize * 8
    return np.clip(y, 0, bits - 1).astype(x.dtype)


def _left_shift(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Shift amounts are clamped to [0, bits - 1], as TensorFlow does."""
    return np.left_shift(x, _shift_amount(x, y))


def _right_shift(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.right_shift(x, _shift_amount(x, y))


_ARITH = FLOATS + INTS
for _op, _fn, _types in [
    ("Add", _add, _ARITH + ("string",)),
    ("AddV2", _add, _ARITH),
    ("Sub", np.subtract, _ARITH),
    ("Mul", np.multiply, _ARITH),
    ("Div", _div, _ARITH),
    ("RealDiv", _real_div, _ARITH),
    ("TruncateDiv", _truncate_div, _ARITH),
    ("FloorDiv", _floor_div, _ARITH),
    ("FloorMod", _floor_mod, _ARITH),
    ("TruncateMod", _truncate_mod, _ARITH),
    ("Mod", _truncate_mod, _ARITH),
    ("DivNoNan", _div_no_nan, FLOATS),
    ("MulNoNan", _mul_no_nan, FLOATS),
    ("Maximum", _maximum, _ARITH),
    ("Minimum", _minimum, _ARITH),
    ("Pow", _pow, _ARITH),
    ("SquaredDifference", lambda x, y: np.square(x - y), _ARITH),
    ("Atan2", np.arctan2, FLOATS),
    ("Xlogy", _xlogy, FLOATS),
    ("Xlog1py", _xlog1py, FLOATS),
    ("Xdivy", _xdivy, FLOATS),
    ("BitwiseAnd", np.bitwise_and, INTS),
    ("BitwiseOr", np.bitwise_or, INTS),
    ("BitwiseXor", np.bitwise_xor, INTS),
    ("LeftShift", _left_shift, INTS),
    ("RightShift", _right_shift, INTS),
]:
    _register_binary(_op, _fn, _types)


# --------------------------------------------------------------------------- comparisons


def _compare(fn: BinaryFn) -> BinaryKernel:
    def run(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        check_broadcast(x, y)
        with np.errstate(all="ignore"):
            return np.asarray(fn(x, y)).astype(np.bool_)

    return run


for _op, _fn in [
    ("Greater", np.greater),
    ("GreaterEqual", np.greater_equal),
    ("Less", np.less),
    ("LessEqual", np.less_equal),
]:
    kernel(_op, family="math", dtypes=NUMERIC)(_compare(_fn))


def _equality(equal: bool) -> Callable[[NodeSpec], Any]:
    def prepare(node: NodeSpec) -> Any:
        strict = bool(node.attrs.get("incompatible_shape_error", True))

        def run(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
            try:
                shape = np.broadcast_shapes(x.shape, y.shape)
            except ValueError:
                if strict:
                    fail(f"Incompatible shapes: {shape_str(x.shape)} vs. {shape_str(y.shape)}")
                return np.array(not equal)
            del shape
            if x.dtype.kind == "O" or y.dtype.kind == "O":
                bx, by = np.broadcast_arrays(x, y)
                pairs = zip(bx.reshape(-1), by.reshape(-1), strict=True)
                out = np.array([a == b for a, b in pairs], dtype=np.bool_)
                out = out.reshape(bx.shape)
            else:
                out = np.equal(x, y)
            return np.asarray(out if equal else np.logical_not(out))

        return run

    return prepare


kernel_factory("Equal", family="math", dtypes=NUMERIC + ("bool", "string"))(_equality(True))
kernel_factory("NotEqual", family="math", dtypes=NUMERIC + ("bool", "string"))(_equality(False))


@kernel_factory("ApproximateEqual", family="math", dtypes=FLOATS)
def _approximate_equal(node: NodeSpec) -> Any:
    tolerance = float(node.attrs.get("tolerance", 1e-5))

    def run(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if x.shape != y.shape:
            fail(
                f"x and y must be of the same shape. x shape: {shape_str(x.shape)}. "
                f"y shape: {shape_str(y.shape)}"
            )
        return np.asarray(np.abs(upcast(x) - upcast(y)) < tolerance)

    return run


@kernel("LogicalAnd", family="math", dtypes=("bool",))
def _logical_and(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    check_broadcast(x, y)
    return np.asarray(np.logical_and(x, y))


@kernel("LogicalOr", family="math", dtypes=("bool",))
def _logical_or(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    check_broadcast(x, y)
    return np.asarray(np.logical_or(x, y))


@kernel("LogicalNot", family="math", dtypes=("bool",))
def _logical_not(ctx: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(np.logical_not(x))


# --------------------------------------------------------------------------- unary


def _unary(fn: Callable[[np.ndarray], Any]) -> Callable[[Any, np.ndarray], np.ndarray]:
    wrapped = float_op(fn)
    return lambda ctx, x: wrapped(x)


def _register_unary(op: str, fn: Callable[[np.ndarray], Any], types: tuple[str, ...], doc: str = "") -> None:
    kernel(op, family="math", dtypes=types, notes=NOTES, doc=doc or f"elementwise {op}")(_unary(fn))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "c":
        return 1 / (1 + np.exp(-x))
    if x.dtype == np.float32:
        return eigen_x86.logistic_float32(x)
    # 1 / (1 + exp(-x)) without overflow, in one pass: sigmoid(x) = (1 + tanh(x / 2)) / 2.
    half = x.dtype.type(0.5)
    return half * np.tanh(half * x) + half


def _round(x: np.ndarray) -> np.ndarray:
    """Half to even. TensorFlow's CPU kernel returns zeros for integer inputs (observed in 2.21);
    we do the same so results match."""
    return np.zeros_like(x) if is_int(x.dtype) else np.round(x)


def _sign(x: np.ndarray) -> np.ndarray:
    return np.sign(x)


def _reciprocal(x: np.ndarray) -> np.ndarray:
    if is_int(x.dtype):
        if np.any(x == 0):
            fail("Integer division by zero")
        return _truncate_div(np.ones_like(x), x)
    return np.reciprocal(x)


def _vectorized(scalar_fn: Callable[[float], float]) -> Callable[[np.ndarray], np.ndarray]:
    ufunc = np.frompyfunc(scalar_fn, 1, 1)

    def run(x: np.ndarray) -> np.ndarray:
        return ufunc(x.astype(np.float64)).astype(np.float64)

    return run


def _safe(scalar_fn: Callable[[float], float]) -> Callable[[float], float]:
    def run(v: float) -> float:
        if np.isnan(v):
            return float("nan")
        try:
            return scalar_fn(v)
        except (ValueError, OverflowError):
            return float("inf")

    return run


def _special_unary(op: str, scipy_name: str, libm: Callable[[float], float] | None) -> None:
    """An elementwise special function: scipy.special's when SciPy is installed; otherwise the C
    library's through Python's math module (as exact, slower), or, with no `libm`, SciPy is required."""
    fallback = _vectorized(_safe(libm)) if libm is not None else None

    doc = (
        f"scipy.special.{scipy_name} if installed, else the C library's (math.{libm.__name__})"
        if libm is not None
        else f"scipy.special.{scipy_name}; needs SciPy (extra 'special')"
    )

    @kernel_factory(
        op, family="math", dtypes=FLOATS, doc=doc, extra="" if fallback is not None else "special"
    )
    def prepare(node: NodeSpec) -> Any:
        special = _scipy_special() if fallback is not None else _require_scipy(node)
        fn = getattr(special, scipy_name) if special is not None else fallback
        if op == "Digamma":
            return _unary(lambda x: np.where((x <= 0) & (x == np.floor(x)), np.nan, fn(x)))
        return _unary(fn)


# Python's libm erf/erfc/lgamma match the goldens (and scipy.special within 2e-10 relative);
# a hand-written digamma did not near its poles, so Digamma needs SciPy like the kernels below.
for _op, _name, _libm in [
    ("Erf", "erf", pymath.erf),
    ("Erfc", "erfc", pymath.erfc),
    ("Lgamma", "gammaln", pymath.lgamma),
    ("Digamma", "digamma", None),
]:
    _special_unary(_op, _name, _libm)


def _tanh(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.float32:  # TensorFlow's rational approximation, bit for bit
        return eigen_x86.tanh_float32(x)
    return np.tanh(x)


def _rsqrt(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.float32:  # TensorFlow's hardware estimate + Newton step, bit for bit
        return eigen_x86.rsqrt_float32(x)
    return 1 / np.sqrt(x)


_F = FLOATS
_FC = FLOATS + ("complex64", "complex128")
for _op, _fn, _types in [
    ("Neg", np.negative, _ARITH),
    ("Square", np.square, _ARITH),
    ("Sqrt", np.sqrt, _FC),
    ("Rsqrt", _rsqrt, _FC),
    ("Exp", np.exp, _FC),
    ("Expm1", np.expm1, _FC),
    ("Log", np.log, _FC),
    ("Log1p", np.log1p, _FC),
    ("Abs", np.abs, _ARITH),
    ("Sign", _sign, _ARITH),
    ("Reciprocal", _reciprocal, _ARITH),
    ("Inv", _reciprocal, _ARITH),
    ("Floor", np.floor, _F),
    ("Ceil", np.ceil, _F),
    ("Round", _round, _ARITH),
    ("Rint", np.rint, _F),
    ("Sin", np.sin, _FC),
    ("Cos", np.cos, _FC),
    ("Tan", np.tan, _FC),
    ("Asin", np.arcsin, _F),
    ("Acos", np.arccos, _F),
    ("Atan", np.arctan, _F),
    ("Sinh", np.sinh, _FC),
    ("Cosh", np.cosh, _FC),
    ("Tanh", _tanh, _FC),
    ("Asinh", np.arcsinh, _F),
    ("Acosh", np.arccosh, _F),
    ("Atanh", np.arctanh, _F),
    ("Sigmoid", _sigmoid, _FC),
    ("Invert", np.invert, INTS),
]:
    _register_unary(_op, _fn, _types)


# Gradients of unary ops, written in terms of the op's output y and the incoming gradient dy
# (what tf.gradients emits). For complex types TensorFlow conjugates the derivative of Sqrt,
# Rsqrt and Reciprocal but not of Tanh and Sigmoid (observed in 2.21). dy may have another shape
# with as many elements; the result has y's shape.


def _unary_grad(op: str, derivative: Callable[[np.ndarray], Any], conjugate: bool = True) -> None:
    def fn(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
        d = derivative(y)
        return dy * (np.conj(d) if conjugate and y.dtype.kind == "c" else d)

    wrapped = float_op(fn)

    @kernel(op, family="math", dtypes=_FC, doc=f"gradient of {op[:-4]} from its output y and dy")
    def run(ctx: Any, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
        if y.size != dy.size:
            fail(f"{op}: y and dy must have the same size: {shape_str(y.shape)} vs {shape_str(dy.shape)}")
        return wrapped(y, dy.reshape(y.shape))


_unary_grad("TanhGrad", lambda y: 1 - y * y, conjugate=False)
_unary_grad("SigmoidGrad", lambda y: y * (1 - y), conjugate=False)
_unary_grad("SqrtGrad", lambda y: 0.5 / y)
_unary_grad("RsqrtGrad", lambda y: -0.5 * (y * y * y))
_unary_grad("ReciprocalGrad", lambda y: -(y * y))
_unary_grad("InvGrad", lambda y: -(y * y))


def _predicate(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Any, np.ndarray], np.ndarray]:
    return lambda ctx, x: np.asarray(fn(upcast(x)))


for _op, _fn in [("IsNan", np.isnan), ("IsInf", np.isinf), ("IsFinite", np.isfinite)]:
    kernel(_op, family="math", dtypes=FLOATS)(_predicate(_fn))


@kernel("Real", family="math", dtypes=("complex64", "complex128"))
def _real(ctx: Any, x: np.ndarray) -> np.ndarray:
    return np.real(x).copy()


@kernel("Imag", family="math", dtypes=("complex64", "complex128"))
def _imag(ctx: Any, x: np.ndarray) -> np.ndarray:
    return np.imag(x).copy()


@kernel("Conj", family="math", dtypes=("complex64", "complex128"))
def _conj(ctx: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(np.conj(x)) if x.dtype.kind == "c" else x


@kernel("ComplexAbs", family="math", dtypes=("complex64", "complex128"))
def _complex_abs(ctx: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(x))


@kernel_factory("Complex", family="math", dtypes=("float32", "float64"))
def _complex(node: NodeSpec) -> Any:
    out = node.attrs.dtype("Tout", tfdtypes.DT.DT_COMPLEX64)

    def run(ctx: Any, re: np.ndarray, im: np.ndarray) -> np.ndarray:
        check_broadcast(re, im)
        return as_dtype(re + 1j * im, out)

    return run


# --------------------------------------------------------------------------- n-ary, select, clip


@kernel("AddN", "AccumulateNV2", family="math", dtypes=NUMERIC)
def _add_n(ctx: Any, *xs: np.ndarray) -> np.ndarray:
    """Sum of same-shaped inputs (AccumulateNV2: tf.gradients' EXPERIMENTAL_ACCUMULATE_N aggregation)."""
    shape = xs[0].shape
    for x in xs[1:]:
        if x.shape != shape:
            fail(f"AddN inputs must have the same shape: {shape_str(shape)} vs. {shape_str(x.shape)}")
    dtype = xs[0].dtype
    total = upcast(xs[0]).copy()
    for x in xs[1:]:
        total = total + upcast(x)
    return as_dtype(total, dtype)


@kernel("Select", family="math", dtypes=NUMERIC + ("bool", "string"))
def _select(ctx: Any, cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.shape != y.shape:
        fail(
            f"'then' and 'else' must have the same size.  but received: {shape_str(x.shape)} vs. "
            f"{shape_str(y.shape)}"
        )
    if cond.shape == x.shape or cond.ndim == 0:
        return np.where(cond, x, y)
    if cond.ndim == 1 and x.ndim >= 1 and cond.shape[0] == x.shape[0]:
        return np.where(cond.reshape((-1,) + (1,) * (x.ndim - 1)), x, y)
    fail(
        f"'cond' must be a scalar, a vector matching the first dimension of 'then', or the same shape: "
        f"{shape_str(cond.shape)} vs. {shape_str(x.shape)}"
    )


@kernel("SelectV2", family="math", dtypes=NUMERIC + ("bool", "string"))
def _select_v2(ctx: Any, cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    broadcast_shape(cond.shape, x.shape, y.shape)
    return np.where(cond, x, y)


@kernel("ClipByValue", family="math", dtypes=NUMERIC)
def _clip_by_value(ctx: Any, t: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    for bound, name in ((lo, "clip_value_min"), (hi, "clip_value_max")):
        if bound.ndim != 0 and bound.shape != t.shape:
            fail(
                f"{name} must be a scalar or have the shape of t: {shape_str(bound.shape)} vs. "
                f"{shape_str(t.shape)}"
            )
    return as_dtype(np.minimum(np.maximum(t, lo), hi), t.dtype)


# --------------------------------------------------------------------------- cast


@kernel_factory(
    "Cast",
    family="math",
    dtypes=NUMERIC + ("bool", "complex64", "complex128"),
    notes="float->int truncates; NaN/out-of-range give INT_MIN for 32/64-bit targets (x86 behaviour)",
)
def _cast(node: NodeSpec) -> Any:
    dst = node.attrs.dtype("DstT")
    dst_enum = node.attrs.dtype_enum("DstT")
    truncate = bool(node.attrs.get("Truncate", False))

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        return cast_array(x, dst, truncate, dst_enum)

    return run


def cast_array(
    x: np.ndarray, dst: np.dtype, truncate: bool = False, dst_enum: int | None = None
) -> np.ndarray:
    """Convert like TensorFlow's Cast (float->int truncates toward zero; ->bool is x != 0)."""
    if x.dtype == dst:
        return x
    if x.dtype == OBJECT or dst == OBJECT:
        if x.dtype == OBJECT and dst == OBJECT:
            return x
        fail(f"Cast between string and {dst if x.dtype == OBJECT else x.dtype} is not supported")
    if dst == np.bool_:
        return x != 0
    with np.errstate(all="ignore"):
        if x.dtype.kind == "c" and dst.kind != "c":
            x = np.real(x)
        if is_float(x.dtype) and is_int(dst):
            return _float_to_int(x, dst)
        if truncate and is_float(dst) and is_float(x.dtype) and dst.itemsize < x.dtype.itemsize:
            return _truncate_mantissa(x, dst)
        if is_bfloat16(x.dtype) and dst.kind in "iub":
            x = x.astype(np.float32)
        return x.astype(dst)


def _float_to_int(x: np.ndarray, dst: np.dtype) -> np.ndarray:
    """Float -> int as x86 does for TensorFlow: truncate; NaN and out-of-range give INT_MIN for
    signed 32/64-bit targets."""
    wide = np.trunc(x.astype(np.float64))
    if dst.itemsize >= 4:
        info = np.iinfo(dst)
        bad = ~np.isfinite(wide) | (wide < info.min) | (wide >= float(info.max) + 1)
        if dst.kind == "i":
            result = np.where(bad, 0, wide).astype(dst)
            result[bad] = info.min
            return result
        return np.where(bad, 0, wide).astype(dst)
    # narrow targets convert through int32 and wrap
    as32 = _float_to_int(wide, np.dtype(np.int32))
    return as32.astype(dst)


def _truncate_mantissa(x: np.ndarray, dst: np.dtype) -> np.ndarray:
    f32 = x.astype(np.float32)
    if is_bfloat16(dst):
        bits = f32.view(np.uint32) & np.uint32(0xFFFF0000)
        return bits.view(np.float32).astype(dst)
    return f32.astype(dst)


@kernel_factory("Bitcast", family="math", dtypes=NUMERIC)
def _bitcast(node: NodeSpec) -> Any:
    dst = node.attrs.dtype("type")

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        src_size, dst_size = x.dtype.itemsize, dst.itemsize
        data = contiguous(x)
        if src_size == dst_size:
            return data.view(dst)
        if src_size > dst_size:
            return data.view(dst).reshape(x.shape + (src_size // dst_size,))
        if x.ndim == 0 or x.shape[-1] != dst_size // src_size:
            fail(f"Cannot bitcast from {x.dtype} to {dst}: last dimension must be {dst_size // src_size}")
        return data.view(dst).reshape(x.shape[:-1])

    return run


# --------------------------------------------------------------------------- reductions


Reducer = Callable[[np.ndarray, tuple[int, ...]], np.ndarray]


def _reduction(op: str, compute: Reducer, types: tuple[str, ...]) -> None:
    @kernel_factory(
        op, family="math", dtypes=types, notes=NOTES, doc=f"{op} over the given axes (keep_dims supported)"
    )
    def prepare(node: NodeSpec) -> Any:
        keep = bool(node.attrs.get("keep_dims", False))

        def run(ctx: Any, x: np.ndarray, axes: np.ndarray) -> np.ndarray:
            ax = reduction_axes(axes, x.ndim)
            out = as_dtype(compute(x, ax), x.dtype)
            if keep:
                shape = tuple(1 if i in ax else d for i, d in enumerate(x.shape))
                return out.reshape(shape)
            return out

        return run


def _kept_inner_sum(x: np.ndarray, ax: tuple[int, ...]) -> np.ndarray | None:
    """A float32/float64 sum over axes that keep the innermost one (global average pooling,
    squeeze-and-excite), added in the order of TensorFlow's x86 CPU kernel; None for other sums.

    TensorFlow drops size-1 dims and merges neighbouring dims, so the input reads as
    [kept N, reduced L, kept C]. It computes the N*C outputs in packets of 8 floats (4 doubles): a
    packet that stays within one row of C sums its L inputs in 4 interleaved partial sums
    (element j into sum j % 4, those then added in order, the L % 4 leftovers last) once L >= 16,
    and one by one below that; outputs whose packet crosses a row end, and the last N*C % 8, are
    summed one by one. np.sum adds in another order: last-bit differences that a deep network
    amplifies (tools/layer_diff.py on EfficientNetB0). Held bit for bit by
    tests/ops/test_accumulation_order.py."""
    if x.dtype not in (np.float32, np.float64) or x.size == 0:
        return None
    dims: list[int] = []
    reduced: list[bool] = []
    for i, d in enumerate(x.shape):
        if d == 1:
            continue
        if reduced and reduced[-1] == (i in ax):
            dims[-1] *= d
        else:
            dims.append(d)
            reduced.append(i in ax)
    if reduced == [True, False]:
        dims, reduced = [1, *dims], [False, True, False]
    if reduced != [False, True, False]:
        return None
    n, length, c = dims
    x3 = x.reshape(n, length, c)
    if length < 16:
        return _running_sum(x3)
    whole = length // 4 * 4
    # element j into partial sum j % 4: one in-order pass over [n, L/4, 4 * c]
    quads = _running_sum(x3[:, :whole, :].reshape(n, whole // 4, 4 * c)).reshape(n, 4, c)
    parts = [quads[:, k, :] for k in range(4)]
    packed = parts[0] + parts[1]
    packed += parts[2]
    packed += parts[3]
    for j in range(whole, length):
        packed += x3[:, j, :]
    packet = 32 // x.dtype.itemsize
    first = np.arange(n * c) // packet * packet
    in_packets = ((first % c + packet - 1 < c) & (first + packet <= n * c)).reshape(n, c)
    if in_packets.all():  # the common case (channels a multiple of the packet): no second pass
        return packed
    return np.where(in_packets, packed, _running_sum(x3))


def _running_sum(x3: np.ndarray) -> np.ndarray:
    """Sum over axis 1 strictly in order (a running sum). NumPy reduces a non-innermost axis row by
    row, in order (its pairwise summation applies only along the innermost axis), so with more than
    one kept inner element np.add.reduce is exactly that; with one, a cumulative sum is."""
    if x3.shape[2] > 1:
        return np.add.reduce(x3, axis=1, dtype=x3.dtype)
    return np.cumsum(x3, axis=1, dtype=x3.dtype)[:, -1, :]


def _sum(x: np.ndarray, ax: tuple[int, ...]) -> np.ndarray:
    if is_float(x.dtype) and x.dtype.itemsize < 4:
        return np.sum(x.astype(np.float32), axis=ax)
    ordered = _kept_inner_sum(x, ax)
    if ordered is not None:
        return ordered.reshape([d for i, d in enumerate(x.shape) if i not in ax])
    return np.sum(x, axis=ax, dtype=x.dtype)


def _prod(x: np.ndarray, ax: tuple[int, ...]) -> np.ndarray:
    if is_float(x.dtype) and x.dtype.itemsize < 4:
        return np.prod(x.astype(np.float32), axis=ax)
    return np.prod(x, axis=ax, dtype=x.dtype)


def _mean(x: np.ndarray, ax: tuple[int, ...]) -> np.ndarray:
    count = 1
    for a in ax:
        count *= x.shape[a]
    if is_int(x.dtype):
        total = np.sum(x, axis=ax, dtype=x.dtype)
        if count == 0:
            return np.zeros_like(total)
        return _truncate_div(total, np.array(count, dtype=x.dtype))
    with np.errstate(all="ignore"):
        ordered = _kept_inner_sum(x, ax)
        if ordered is not None:
            total = ordered.reshape([d for i, d in enumerate(x.shape) if i not in ax])
        else:
            total = np.sum(upcast(x), axis=ax)
        return total / np.array(count, dtype=total.dtype)


def _max(x: np.ndarray, ax: tuple[int, ...]) -> np.ndarray:
    if is_bfloat16(x.dtype):
        return np.max(x.astype(np.float32), axis=ax, initial=lowest(x.dtype))
    return np.max(x, axis=ax, initial=lowest(x.dtype))


def _min(x: np.ndarray, ax: tuple[int, ...]) -> np.ndarray:
    if is_bfloat16(x.dtype):
        return np.min(x.astype(np.float32), axis=ax, initial=highest(x.dtype))
    return np.min(x, axis=ax, initial=highest(x.dtype))


def _euclidean_norm(x: np.ndarray, ax: tuple[int, ...]) -> np.ndarray:
    if is_int(x.dtype):
        return np.sqrt(np.sum(x * x, axis=ax, dtype=x.dtype)).astype(x.dtype)
    return np.sqrt(np.sum(np.square(upcast(x)), axis=ax))


_reduction("Sum", _sum, NUMERIC + ("complex64", "complex128"))
_reduction("Prod", _prod, NUMERIC + ("complex64", "complex128"))
_reduction("Mean", _mean, NUMERIC + ("complex64", "complex128"))
_reduction("Max", _max, NUMERIC)
_reduction("Min", _min, NUMERIC)
_reduction("EuclideanNorm", _euclidean_norm, NUMERIC)
_reduction("All", lambda x, ax: np.all(x, axis=ax), ("bool",))
_reduction("Any", lambda x, ax: np.any(x, axis=ax), ("bool",))


def _arg_reduce(op: str, pick: Callable[..., np.ndarray]) -> None:
    @kernel_factory(op, family="math", dtypes=NUMERIC + ("bool",), notes=NOTES)
    def prepare(node: NodeSpec) -> Any:
        out = node.attrs.dtype("output_type", tfdtypes.DT.DT_INT64)

        def run(ctx: Any, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
            a = normalize_axis(int(np.asarray(axis).reshape(-1)[0]), max(x.ndim, 1), "Reduction axis")
            if x.ndim == 0:
                fail("Expected a tensor of rank >= 1")
            if x.shape[a] == 0:
                fail(f"Reduction axis {a} is empty in shape {shape_str(x.shape)}")
            return as_dtype(pick(upcast(x), axis=a), out)

        return run


def _argmax(x: np.ndarray, axis: int) -> np.ndarray:
    """NaN never wins (TensorFlow compares with >), ties go to the first index."""
    if is_float(x.dtype):
        x = np.where(np.isnan(x), -np.inf, x)
    return np.argmax(x, axis=axis)


def _argmin(x: np.ndarray, axis: int) -> np.ndarray:
    if is_float(x.dtype):
        x = np.where(np.isnan(x), np.inf, x)
    return np.argmin(x, axis=axis)


_arg_reduce("ArgMax", _argmax)
_arg_reduce("ArgMin", _argmin)


def _cumulative(op: str, ufunc: np.ufunc, identity: int) -> None:
    @kernel_factory(op, family="math", dtypes=NUMERIC)
    def prepare(node: NodeSpec) -> Any:
        exclusive = bool(node.attrs.get("exclusive", False))
        reverse = bool(node.attrs.get("reverse", False))

        def run(ctx: Any, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
            if x.ndim == 0:
                fail("Cumulative ops need a tensor of rank >= 1")
            a = normalize_axis(int(np.asarray(axis).reshape(-1)[0]), x.ndim)
            dtype = x.dtype
            work = upcast(x)
            if reverse:
                work = np.flip(work, a)
            if exclusive:
                pad_shape = list(work.shape)
                pad_shape[a] = 1
                first = np.full(pad_shape, identity, dtype=work.dtype)
                work = np.concatenate([first, np.delete(work, -1, axis=a)], axis=a) if work.shape[a] else work
            with np.errstate(all="ignore"):
                out = ufunc.accumulate(work, axis=a, dtype=work.dtype) if work.size else work
            if reverse:
                out = np.flip(out, a)
            return as_dtype(contiguous(out), dtype)

        return run


_cumulative("Cumsum", np.add, 0)
_cumulative("Cumprod", np.multiply, 1)


@kernel_factory("CumulativeLogsumexp", family="math", dtypes=FLOATS)
def _cumulative_logsumexp(node: NodeSpec) -> Any:
    exclusive = bool(node.attrs.get("exclusive", False))
    reverse = bool(node.attrs.get("reverse", False))

    def run(ctx: Any, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
        a = normalize_axis(int(np.asarray(axis).reshape(-1)[0]), x.ndim)
        dtype = x.dtype
        work = upcast(x).astype(np.float64)
        if reverse:
            work = np.flip(work, a)
        if exclusive and work.shape[a]:
            pad_shape = list(work.shape)
            pad_shape[a] = 1
            work = np.concatenate([np.full(pad_shape, -np.inf), np.delete(work, -1, axis=a)], axis=a)
        with np.errstate(all="ignore"):
            out = np.logaddexp.accumulate(work, axis=a) if work.size else work
        if reverse:
            out = np.flip(out, a)
        return as_dtype(out, dtype)

    return run


# --------------------------------------------------------------------------- matrix products


def _matmul_compute(a: np.ndarray, b: np.ndarray, out_dtype: np.dtype) -> np.ndarray:
    if is_float(a.dtype) and a.dtype.itemsize < 4:
        return as_dtype(np.matmul(a.astype(np.float32), b.astype(np.float32)), out_dtype)
    if a.dtype == np.bool_:
        fail("MatMul does not support bool")
    return as_dtype(np.matmul(a, b), out_dtype)


@kernel_factory("MatMul", family="math", dtypes=NUMERIC + ("complex64", "complex128"))
def _matmul(node: NodeSpec) -> Any:
    ta = bool(node.attrs.get("transpose_a", False))
    tb = bool(node.attrs.get("transpose_b", False))

    def run(ctx: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.ndim != 2 or b.ndim != 2:
            fail(f"In[0] and In[1] must be matrices: {shape_str(a.shape)} and {shape_str(b.shape)}")
        a2 = a.T if ta else a
        b2 = b.T if tb else b
        if a2.shape[1] != b2.shape[0]:
            fail(f"Matrix size-incompatible: In[0]: {shape_str(a.shape)}, In[1]: {shape_str(b.shape)}")
        if a.dtype == np.float32 and b.dtype == np.float32:
            return tf_order_matmul(a2, b2)  # TensorFlow's summation order where modelled
        return _matmul_compute(a2, b2, a.dtype)

    return run


def _batch_matmul(node: NodeSpec, broadcast: bool) -> Any:
    adj_x = bool(node.attrs.get("adj_x", False))
    adj_y = bool(node.attrs.get("adj_y", False))
    out_dtype = node.attrs.dtype("Tout") if "Tout" in node.attrs else None

    def adjoint(m: np.ndarray) -> np.ndarray:
        m = np.swapaxes(m, -1, -2)
        return np.conj(m) if m.dtype.kind == "c" else m

    def run(ctx: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if x.ndim < 2 or y.ndim < 2:
            fail(f"In[0] and In[1] must have rank >= 2: {shape_str(x.shape)} and {shape_str(y.shape)}")
        xa = adjoint(x) if adj_x else x
        ya = adjoint(y) if adj_y else y
        if xa.shape[-1] != ya.shape[-2]:
            fail(f"Matrix size-incompatible: In[0]: {shape_str(x.shape)}, In[1]: {shape_str(y.shape)}")
        if broadcast:
            broadcast_shape(x.shape[:-2], y.shape[:-2])
        elif x.shape[:-2] != y.shape[:-2]:
            fail(
                f"In[0] and In[1] must have the same batch shape: {shape_str(x.shape)} vs "
                f"{shape_str(y.shape)}"
            )
        dtype = out_dtype if out_dtype is not None else x.dtype
        if x.dtype != y.dtype:
            return _matmul_compute(
                upcast(xa).astype(np.result_type(upcast(xa), upcast(ya))),
                upcast(ya).astype(np.result_type(upcast(xa), upcast(ya))),
                dtype,
            )
        return _matmul_compute(xa, ya, dtype)

    return run


kernel_factory("BatchMatMul", family="math", dtypes=NUMERIC)(lambda node: _batch_matmul(node, False))
kernel_factory("BatchMatMulV2", family="math", dtypes=NUMERIC)(lambda node: _batch_matmul(node, True))
kernel_factory("BatchMatMulV3", family="math", dtypes=NUMERIC)(lambda node: _batch_matmul(node, True))


@kernel_factory("Einsum", family="math", dtypes=NUMERIC)
def _einsum(node: NodeSpec) -> Any:
    equation = node.attrs["equation"]
    equation = equation.decode() if isinstance(equation, bytes) else equation

    def run(ctx: Any, *xs: np.ndarray) -> np.ndarray:
        dtype = xs[0].dtype
        try:
            # optimize: contractions go to BLAS (tensordot) instead of einsum's own loop
            out = np.einsum(equation, *(upcast(x) for x in xs), optimize=len(xs) > 1)
        except ValueError as exc:
            fail(f"Einsum {equation!r}: {exc}")
        return as_dtype(out, dtype)

    return run


@kernel("Cross", family="math", dtypes=NUMERIC)
def _cross(ctx: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.shape != b.shape or a.ndim == 0 or a.shape[-1] != 3:
        fail(f"Cross needs equal shapes with last dimension 3: {shape_str(a.shape)} vs {shape_str(b.shape)}")
    return as_dtype(np.cross(upcast(a), upcast(b)), a.dtype)


# --------------------------------------------------------------------------- segment reductions

_SEGMENT_UFUNC = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum}


def segment_reduce(data: np.ndarray, ids: np.ndarray, num: int, kind: str, empty_fill: str) -> np.ndarray:
    """Reduce rows of `data` (after flattening the ids' dims) into `num` segments; negative ids are
    dropped. `empty_fill`: "identity" (lowest/highest for max/min) or "zero"."""
    flat_ids = ids.reshape(-1).astype(np.int64)
    inner = data.shape[ids.ndim :]
    rows = data.reshape((flat_ids.size,) + inner)
    dtype = data.dtype
    work = upcast(rows)
    keep = flat_ids >= 0
    flat_ids, work = flat_ids[keep], work[keep]
    if kind == "mean":
        total = np.zeros((num,) + inner, dtype=work.dtype)
        np.add.at(total, flat_ids, work)
        counts = np.bincount(flat_ids, minlength=num)[:num].reshape((num,) + (1,) * len(inner))
        with np.errstate(all="ignore"):
            if is_int(dtype):
                out = np.where(counts > 0, total // np.maximum(counts, 1).astype(dtype), 0)
            else:
                out = np.where(counts > 0, total / np.maximum(counts, 1), 0)
        return as_dtype(out, dtype)
    if kind == "sum":
        init: Any = 0
    elif kind == "prod":
        init = 1
    elif kind == "max":  # empty segments hold the lowest finite value, as in TensorFlow
        init = np.finfo(work.dtype).min if is_float(dtype) else lowest(dtype)
    else:
        init = np.finfo(work.dtype).max if is_float(dtype) else highest(dtype)
    out = np.full((num,) + inner, init, dtype=work.dtype)
    _SEGMENT_UFUNC[kind].at(out, flat_ids, work)
    if empty_fill == "zero" and kind in ("max", "min"):
        present = np.bincount(flat_ids, minlength=num)[:num] > 0
        out[~present] = 0
    return as_dtype(out, dtype)


def _sorted_segment(kind: str) -> Any:
    def run(ctx: Any, data: np.ndarray, ids: np.ndarray) -> np.ndarray:
        if ids.ndim != 1 or (data.ndim == 0) or ids.shape[0] != data.shape[0]:
            fail(
                f"segment_ids should be the same size as dimension 0 of input: {shape_str(ids.shape)} vs "
                f"{shape_str(data.shape)}"
            )
        if ids.size and (np.any(np.diff(ids) < 0) or ids[0] < 0):
            fail("segment ids are not increasing")
        num = int(ids[-1]) + 1 if ids.size else 0
        return segment_reduce(data, ids, num, kind, "zero")

    return run


def _unsorted_segment(kind: str) -> Any:
    def run(ctx: Any, data: np.ndarray, ids: np.ndarray, num_segments: np.ndarray) -> np.ndarray:
        num = int(np.asarray(num_segments).reshape(-1)[0])
        if data.shape[: ids.ndim] != ids.shape:
            fail(
                f"data.shape = {shape_str(data.shape)} does not start with segment_ids.shape = "
                f"{shape_str(ids.shape)}"
            )
        if num < 0:
            fail(f"num_segments must be non-negative, got {num}")
        if ids.size and ids.max() >= num:
            fail(
                f"segment_ids[{int(np.argmax(ids.reshape(-1) >= num))}] = {int(ids.max())} is out of range "
                f"[0, {num})"
            )
        return segment_reduce(data, ids, num, kind, "identity")

    return run


for _kind in ("sum", "prod", "max", "min", "mean"):
    kernel(f"Segment{_kind.capitalize()}", family="math", dtypes=NUMERIC)(_sorted_segment(_kind))
for _kind in ("sum", "prod", "max", "min"):
    kernel(f"UnsortedSegment{_kind.capitalize()}", family="math", dtypes=NUMERIC)(_unsorted_segment(_kind))


# --------------------------------------------------------------------------- FFT


def _fft_kernel(op: str, rank: int, inverse: bool, real: str) -> None:
    @kernel_factory(op, family="math", dtypes=("complex64", "complex128", "float32", "float64"))
    def prepare(node: NodeSpec) -> Any:
        out_complex = node.attrs.dtype("Tcomplex") if "Tcomplex" in node.attrs else np.dtype(np.complex64)
        out_real = node.attrs.dtype("Treal") if "Treal" in node.attrs else np.dtype(np.float32)

        def run(ctx: Any, x: np.ndarray, *fft_length: np.ndarray) -> np.ndarray:
            if x.ndim < rank:
                fail(f"Input must have rank of at least {rank} but got: {x.ndim}")
            axes = tuple(range(-rank, 0))
            if real == "":
                fn = np.fft.ifftn if inverse else np.fft.fftn
                return fn(x.astype(np.complex128), axes=axes).astype(x.dtype)
            lengths = [int(v) for v in np.asarray(fft_length[0]).reshape(-1)]
            if real == "r":
                out = np.fft.rfftn(x.astype(np.float64), s=lengths, axes=axes)
                return out.astype(out_complex)
            out = np.fft.irfftn(x.astype(np.complex128), s=lengths, axes=axes)
            return out.astype(out_real)

        return run


for _op, _rank, _inv, _real in [
    ("FFT", 1, False, ""),
    ("IFFT", 1, True, ""),
    ("FFT2D", 2, False, ""),
    ("IFFT2D", 2, True, ""),
    ("FFT3D", 3, False, ""),
    ("IFFT3D", 3, True, ""),
    ("RFFT", 1, False, "r"),
    ("IRFFT", 1, True, "i"),
    ("RFFT2D", 2, False, "r"),
    ("IRFFT2D", 2, True, "i"),
    ("RFFT3D", 3, False, "r"),
    ("IRFFT3D", 3, True, "i"),
]:
    _fft_kernel(_op, _rank, _inv, _real)


@kernel_factory("Angle", family="math", dtypes=("complex64", "complex128"))
def _angle(node: NodeSpec) -> Any:
    out = node.attrs.dtype("Tout") if "Tout" in node.attrs else np.dtype(np.float32)
    return lambda ctx, x: np.asarray(np.angle(x)).astype(out)


# --------------------------------------------------------------------------- special functions (SciPy)


def _special_kernel(op: str, name: str, arity: int) -> None:
    @kernel_factory(
        op,
        family="math",
        dtypes=("float32", "float64", "float16", "bfloat16"),
        doc=f"scipy.special.{name}; needs SciPy (extra 'special')",
        extra="special",
    )
    def prepare(node: NodeSpec) -> Any:
        fn = getattr(_require_scipy(node), name)

        def run(ctx: Any, *xs: np.ndarray) -> np.ndarray:
            if arity == 2:
                check_broadcast(*xs)
            dtype = xs[0].dtype
            with np.errstate(all="ignore"):
                out = fn(*(x.astype(np.float64) for x in xs))
            return as_dtype(out, dtype)

        return run


for _op, _name, _arity in [
    ("Igamma", "gammainc", 2),
    ("Igammac", "gammaincc", 2),
    ("Zeta", "zeta", 2),
    ("Polygamma", "polygamma", 2),
    ("BesselI0e", "i0e", 1),
    ("BesselI1e", "i1e", 1),
    ("BesselI0", "i0", 1),
    ("BesselI1", "i1", 1),
    ("Ndtri", "ndtri", 1),
    ("Erfinv", "erfinv", 1),
    ("Betainc", "betainc", 3),
]:
    _special_kernel(_op, _name, _arity)


@kernel_factory("SparseMatMul", family="math", dtypes=("float32", "bfloat16"))
def _sparse_matmul(node: NodeSpec) -> Any:
    """MatMul of old graphs (tf.matmul with a_is_sparse/b_is_sparse): float32 out, sparsity a hint"""
    ta = bool(node.attrs.get("transpose_a", False))
    tb = bool(node.attrs.get("transpose_b", False))

    def run(ctx: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.asarray(a), np.asarray(b)
        if a.ndim != 2 or b.ndim != 2:
            fail(f"In[0] and In[1] must be matrices: {shape_str(a.shape)} and {shape_str(b.shape)}")
        a2 = (a.T if ta else a).astype(np.float32)
        b2 = (b.T if tb else b).astype(np.float32)
        if a2.shape[1] != b2.shape[0]:
            fail(f"Matrix size incompatible: a: {shape_str(a.shape)}, b: {shape_str(b.shape)}")
        return np.matmul(a2, b2).astype(np.float32)

    return run
