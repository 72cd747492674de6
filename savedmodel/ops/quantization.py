"""Quantization ops: fake quantization (and its gradients, for quantization-aware training graphs),
quantize-and-dequantize, Quantize/Dequantize to the quantized integer types."""

from __future__ import annotations

from typing import Any

import numpy as np

from savedmodel.format import dtypes as tfdtypes
from savedmodel.ops._common import (
    FLOATS,
    as_dtype,
    fail,
    normalize_axis,
    shape_str,
)
from savedmodel.ops.registry import NodeSpec, kernel_factory

# --------------------------------------------------------------------------- fake quantization


def _nudge(lo: float, hi: float, qmin: int, qmax: int) -> tuple[np.float32, np.float32, np.float32]:
    lo32, hi32 = np.float32(lo), np.float32(hi)
    scale = np.float32((hi32 - lo32) / np.float32(qmax - qmin))
    zero_from_min = np.float32(np.float32(qmin) - lo32 / scale)
    if zero_from_min < qmin:
        zero = np.float32(qmin)
    elif zero_from_min > qmax:
        zero = np.float32(qmax)
    else:
        zero = np.float32(np.floor(zero_from_min + np.float32(0.5)))
    return (
        np.float32((np.float32(qmin) - zero) * scale),
        np.float32((np.float32(qmax) - zero) * scale),
        scale,
    )


def fake_quant(x: np.ndarray, lo: float, hi: float, bits: int, narrow: bool) -> np.ndarray:
    qmin, qmax = (1 if narrow else 0), (1 << bits) - 1
    nmin, nmax, scale = _nudge(lo, hi, qmin, qmax)
    clamped = np.clip(x.astype(np.float32), nmin, nmax)
    inv = np.float32(1) / scale
    return (np.floor((clamped - nmin) * inv + np.float32(0.5)) * scale + nmin).astype(np.float32)


def _fq_attrs(node: NodeSpec) -> tuple[int, bool]:
    bits = int(node.attrs.get("num_bits", 8))
    if not 2 <= bits <= 16:
        fail(f"num_bits is out of range, expected between 2 and 16, was: {bits}")
    return bits, bool(node.attrs.get("narrow_range", False))


@kernel_factory("FakeQuantWithMinMaxArgs", family="quantization", dtypes=("float32",))
def _fake_quant_args(node: NodeSpec) -> Any:
    bits, narrow = _fq_attrs(node)
    lo, hi = float(node.attrs.get("min", -6.0)), float(node.attrs.get("max", 6.0))
    if lo >= hi:
        raise_msg = f"min has to be smaller than max, was: {lo} >= {hi}"
    else:
        raise_msg = ""

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        if raise_msg:
            fail(raise_msg)
        return fake_quant(x, lo, hi, bits, narrow)

    return run


@kernel_factory("FakeQuantWithMinMaxVars", family="quantization", dtypes=("float32",))
def _fake_quant_vars(node: NodeSpec) -> Any:
    bits, narrow = _fq_attrs(node)
    return lambda ctx, x, lo, hi: fake_quant(x, float(lo), float(hi), bits, narrow)


@kernel_factory("FakeQuantWithMinMaxVarsPerChannel", family="quantization", dtypes=("float32",))
def _fake_quant_per_channel(node: NodeSpec) -> Any:
    bits, narrow = _fq_attrs(node)

    def run(ctx: Any, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        if lo.shape != (x.shape[-1],) or hi.shape != lo.shape:
            fail(f"min and max must be vectors of the last dimension of inputs: {shape_str(lo.shape)}")
        out = np.empty(x.shape, dtype=np.float32)
        for c in range(x.shape[-1]):
            out[..., c] = fake_quant(x[..., c], float(lo[c]), float(hi[c]), bits, narrow)
        return out

    return run


# Gradients (quantization-aware training): the gradient passes where the input lies inside the
# nudged [min, max]; the parts below and above go to min and max.


def _fake_quant_grad(
    g: np.ndarray, x: np.ndarray, lo: float, hi: float, bits: int, narrow: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    qmin, qmax = (1 if narrow else 0), (1 << bits) - 1
    nmin, nmax, _ = _nudge(lo, hi, qmin, qmax)
    xf, gf = x.astype(np.float32), g.astype(np.float32)
    below, above = xf < nmin, xf > nmax
    inside = np.where(below | above, np.float32(0), gf)
    return inside, np.sum(gf[below], dtype=np.float32), np.sum(gf[above], dtype=np.float32)


def _same_shape(op: str, g: np.ndarray, x: np.ndarray) -> None:
    if g.shape != x.shape:
        fail(
            f"{op}: gradients and inputs must have the same shape: "
            f"{shape_str(g.shape)} vs {shape_str(x.shape)}"
        )


@kernel_factory("FakeQuantWithMinMaxArgsGradient", family="quantization", dtypes=("float32",))
def _fake_quant_args_grad(node: NodeSpec) -> Any:
    bits, narrow = _fq_attrs(node)
    lo, hi = float(node.attrs.get("min", -6.0)), float(node.attrs.get("max", 6.0))

    def run(ctx: Any, g: np.ndarray, x: np.ndarray) -> np.ndarray:
        if lo >= hi:
            fail(f"min has to be smaller than max, was: {lo} >= {hi}")
        _same_shape("FakeQuantWithMinMaxArgsGradient", g, x)
        return _fake_quant_grad(g, x, lo, hi, bits, narrow)[0]

    return run


@kernel_factory("FakeQuantWithMinMaxVarsGradient", family="quantization", dtypes=("float32",))
def _fake_quant_vars_grad(node: NodeSpec) -> Any:
    bits, narrow = _fq_attrs(node)

    def run(ctx: Any, g: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
        _same_shape("FakeQuantWithMinMaxVarsGradient", g, x)
        dx, dmin, dmax = _fake_quant_grad(g, x, float(lo), float(hi), bits, narrow)
        return [dx, np.asarray(dmin, np.float32), np.asarray(dmax, np.float32)]

    return run


@kernel_factory("FakeQuantWithMinMaxVarsPerChannelGradient", family="quantization", dtypes=("float32",))
def _fake_quant_per_channel_grad(node: NodeSpec) -> Any:
    bits, narrow = _fq_attrs(node)

    def run(ctx: Any, g: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
        _same_shape("FakeQuantWithMinMaxVarsPerChannelGradient", g, x)
        if x.ndim < 1 or lo.shape != (x.shape[-1],) or hi.shape != lo.shape:
            fail(f"min and max must be vectors of the last dimension of inputs: {shape_str(lo.shape)}")
        dx = np.empty(x.shape, dtype=np.float32)
        dmin = np.empty(lo.shape, dtype=np.float32)
        dmax = np.empty(lo.shape, dtype=np.float32)
        for c in range(x.shape[-1]):
            dx[..., c], dmin[c], dmax[c] = _fake_quant_grad(
                g[..., c], x[..., c], float(lo[c]), float(hi[c]), bits, narrow
            )
        return [dx, dmin, dmax]

    return run


def _round_mode(node: NodeSpec, default: str) -> str:
    mode = node.attrs.get("round_mode", default.encode())
    return mode.decode() if isinstance(mode, bytes) else str(mode)


def _round_with_mode(values: np.ndarray, mode: str) -> np.ndarray:
    if mode == "HALF_TO_EVEN":
        return np.rint(values)
    if mode == "HALF_UP":
        return np.floor(values + 0.5)
    return np.trunc(values + np.copysign(0.5, values))  # HALF_AWAY_FROM_ZERO


def _quantize_dequantize(node: NodeSpec, bits_input: bool) -> Any:
    signed = bool(node.attrs.get("signed_input", True))
    range_given = bool(node.attrs.get("range_given", False))
    narrow = bool(node.attrs.get("narrow_range", False))
    axis = int(node.attrs.get("axis", -1))
    mode = _round_mode(node, "HALF_TO_EVEN")
    attr_bits = int(node.attrs.get("num_bits", 8))

    def one(x: np.ndarray, lo: float, hi: float, bits: int) -> np.ndarray:
        if signed:
            qmin = -(1 << (bits - 1)) + (1 if narrow else 0)
            qmax = (1 << (bits - 1)) - 1
        else:
            qmin, qmax = 0, (1 << bits) - 1
        big = np.finfo(np.float64).max
        from_min = qmin / lo if qmin * lo > 0 else big
        from_max = qmax / hi if qmax * hi > 0 else big
        if from_min < from_max:
            scale, inverse = from_min, lo / qmin
            lo_r, hi_r = lo, qmax * inverse
        else:
            scale, inverse = from_max, hi / qmax
            lo_r, hi_r = qmin * inverse, hi
        if scale == big:
            return np.zeros_like(x)
        clamped = np.clip(x.astype(np.float64), lo_r, hi_r)
        return _round_with_mode(clamped * scale, mode) * inverse

    def run(ctx: Any, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, *rest: np.ndarray) -> np.ndarray:
        bits = int(rest[0]) if bits_input else attr_bits
        if axis == -1:
            low = float(lo) if range_given else float(np.min(x)) if x.size else 0.0
            high = float(hi) if range_given else float(np.max(x)) if x.size else 0.0
            if range_given and low > high:
                fail(f"Invalid range: input_min {low} > input_max {high}")
            return as_dtype(one(x, low, high, bits), x.dtype)
        a = normalize_axis(axis, x.ndim)
        out = np.empty(x.shape, dtype=np.float64)
        for c in range(x.shape[a]):
            sl = np.take(x, c, axis=a)
            low = float(lo[c]) if range_given else float(np.min(sl))
            high = float(hi[c]) if range_given else float(np.max(sl))
            idx = [slice(None)] * x.ndim
            idx[a] = c
            out[tuple(idx)] = one(sl, low, high, bits)
        return as_dtype(out, x.dtype)

    return run


kernel_factory("QuantizeAndDequantizeV2", family="quantization", dtypes=FLOATS)(
    lambda node: _quantize_dequantize(node, False)
)
kernel_factory("QuantizeAndDequantizeV4", family="quantization", dtypes=FLOATS)(
    lambda node: _quantize_dequantize(node, False)
)
kernel_factory("QuantizeAndDequantizeV3", family="quantization", dtypes=FLOATS)(
    lambda node: _quantize_dequantize(node, True)
)


def _qrange(dtype: np.dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


@kernel_factory(
    "Dequantize", family="quantization", dtypes=("qint8", "quint8", "qint32", "qint16", "quint16")
)
def _dequantize(node: NodeSpec) -> Any:
    mode = node.attrs.get("mode", b"MIN_COMBINED")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    narrow = bool(node.attrs.get("narrow_range", False))
    out = node.attrs.dtype("dtype") if "dtype" in node.attrs else np.dtype(np.float32)
    signed = tfdtypes.dtype_name(node.attrs.dtype_enum("T")).startswith("qint")

    def run(ctx: Any, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        low, high = float(np.asarray(lo).reshape(-1)[0]), float(np.asarray(hi).reshape(-1)[0])
        qlo, qhi = _qrange(x.dtype)
        if mode == "SCALED":
            min_t = qlo + 1 if narrow else qlo
            factor = max(low / min_t, high / qhi)
            return (x.astype(np.float64) * factor).astype(out)
        if mode == "MIN_FIRST":
            span = qhi - qlo
            return (low + (x.astype(np.float64) - qlo) * (high - low) / span).astype(out)
        span = qhi - qlo
        shift = (span + 1) / 2 if signed else 0
        return (low + (x.astype(np.float64) + shift) * (high - low) / span).astype(out)

    return run


@kernel_factory("QuantizeV2", family="quantization", dtypes=("float32",))
def _quantize_v2(node: NodeSpec) -> Any:
    mode = node.attrs.get("mode", b"MIN_COMBINED")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    round_mode = _round_mode(node, "HALF_AWAY_FROM_ZERO")
    narrow = bool(node.attrs.get("narrow_range", False))
    ensure = float(node.attrs.get("ensure_minimum_range", 0.01))
    dtype = node.attrs.dtype("T")
    signed = tfdtypes.dtype_name(node.attrs.dtype_enum("T")).startswith("qint")

    def run(ctx: Any, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
        low, high = float(np.asarray(lo).reshape(-1)[0]), float(np.asarray(hi).reshape(-1)[0])
        if low > high:
            fail(f"min_range ({low}) must be <= max_range ({high})")
        low, high = min(low, 0.0), max(high, 0.0)
        epsilon = max(1.0, max(abs(low), abs(high))) * ensure
        high = max(high, low + epsilon)
        qlo, qhi = _qrange(dtype)
        xw = x.astype(np.float64)
        if mode == "SCALED":
            min_out = qlo + 1 if narrow else qlo
            big = np.finfo(np.float64).max
            f_min = min_out / low if min_out * low > 0 else big
            f_max = qhi / high if qhi * high > 0 else big
            factor = min(f_min, f_max)
            low, high = min_out / factor, qhi / factor
            q = _round_with_mode(np.clip(xw, low, high) * factor, round_mode)
            q = np.clip(q, min_out, qhi)
        else:
            span = qhi - qlo
            shifted = (np.clip(xw, low, high) - low) * (span / (high - low)) - (
                (span + 1) / 2 if signed else 0
            )
            q = np.clip(_round_with_mode(shifted, round_mode), qlo, qhi)
        return [q.astype(dtype), np.array(low, np.float32), np.array(high, np.float32)]

    return run
