"""float32 approximations that TensorFlow's x86 CPU kernels run (Eigen, built for AVX without FMA),
reproduced bit for bit.

Eigen evaluates an elementwise expression in packets of 8 floats and the last size % 8 elements one
by one, with other code for each: the packet code approximates (a polynomial for exp, the hardware
estimate plus a Newton step for rsqrt), the one-by-one code calls the C library. TensorFlow's
threads run with denormals flushed to zero (FTZ/DAZ). A deep network amplifies last-bit differences
about a thousandfold (EfficientNetB0: tools/layer_diff.py, tools/effnet_spread.py), so these are
held to TensorFlow's results exactly (tests/ops/test_accumulation_order.py).
"""

from __future__ import annotations

import base64
import functools
import threading
import zlib

import numpy as np

from savedmodel.ops import _buffers as buffers

PACKET = 8  # AVX: 8 floats
_CHUNK = 32768  # elements per pass: the temporaries stay in the L2 cache (fewer passes: less overhead)
_F32 = np.float32
_TINY = np.finfo(np.float32).tiny


def _split(size: int) -> int:
    """How many leading elements of a flat array of `size` Eigen computes in packets."""
    return size // PACKET * PACKET


def _flush_denormals(values: np.ndarray) -> np.ndarray:
    values[np.abs(values) < _TINY] = 0  # NaN compares false and stays
    return values


def _zero_denormals(values: np.ndarray) -> np.ndarray:
    """Denormal inputs read as zero of their sign (DAZ)."""
    return np.where(np.abs(values) < _TINY, values * _F32(0), values)


# --------------------------------------------------------------------------- logistic (Sigmoid)

# exp(x) = (2^m exp(r))^2 with x/2 = m ln2 + r, ln2 split in two (Cephes), exp(r) a degree-5
# minimax polynomial; Eigen's scalar_logistic_op<float>.
_LOGISTIC_HI = _F32(16.6355324)  # where the approximation first reaches exactly 1
_LOGISTIC_LO = _F32(-104.0)  # below it the result is 0
_LOG2E = _F32(1.44269504088896341)
_LN2_HI, _LN2_LO = _F32(-0.693359375), _F32(2.12194440e-4)
_EXP_P2, _EXP_P3 = _F32(0.49999141693115234375), _F32(0.16666877269744873046875)
_EXP_P4, _EXP_P5 = _F32(4.1898667812347412109375e-2), _F32(8.33471305668354034423828125e-3)


def logistic_float32(
    x: np.ndarray, times: np.ndarray | None = None, scale: np.ndarray | None = None
) -> np.ndarray:
    """TensorFlow's CPU Sigmoid: the polynomial on packets, exp(x) / (1 + exp(x)) with a correctly
    rounded float exp (glibc's expf) on the rest, denormal results flushed.

    Swish in one pass, chunk by chunk while in the cache: `scale` (one float32) multiplies x first,
    `times` (x's shape) multiplies the result: times * sigmoid(x * scale), rounded as those ops."""
    flat = x.reshape(-1)
    factor = None if times is None else times.reshape(-1)
    packed = _split(flat.size)
    out = buffers.empty(flat.shape, _F32)
    with np.errstate(all="ignore"):
        scratch = _scratch()
        for start in range(0, packed, _CHUNK):
            stop = min(start + _CHUNK, packed)
            chunk, inputs = out[start:stop], flat[start:stop]
            if scale is not None:
                inputs = np.multiply(inputs, scale.reshape(()), out=scratch.scaled[: stop - start])
            _logistic_packets(inputs, chunk, scratch)
            if factor is not None:
                np.multiply(chunk, factor[start:stop], out=chunk)
        if packed < flat.size:
            tail = flat[packed:] if scale is None else flat[packed:] * scale.reshape(())
            e = np.exp(np.minimum(tail, _LOGISTIC_HI).astype(np.float64)).astype(_F32)
            out[packed:] = _flush_denormals(e / (_F32(1) + e))
            if factor is not None:
                out[packed:] *= factor[packed:]
    return out.reshape(x.shape)


def _scratch() -> _LogisticScratch:
    """This thread's scratch buffers (one chunk's worth, made once: a small Sigmoid, as in an RNN
    step, then allocates nothing but its output)."""
    scratch = getattr(_THREAD_SCRATCH, "logistic", None)
    if scratch is None:
        scratch = _THREAD_SCRATCH.logistic = _LogisticScratch(_CHUNK)
    return scratch


_THREAD_SCRATCH = threading.local()


class _LogisticScratch:
    """Buffers of the packet path, reused from chunk to chunk (they stay in the cache)."""

    def __init__(self, size: int) -> None:
        self.v, self.m, self.r, self.r2, self.q, self.scaled = (np.empty(size, _F32) for _ in range(6))
        self.exponent = np.empty(size, np.int32)
        self.small = np.empty(size, np.bool_)

    def take(self, size: int) -> tuple[np.ndarray, ...]:
        return tuple(b[:size] for b in (self.v, self.m, self.r, self.r2, self.q, self.exponent, self.small))


def _logistic_packets(x: np.ndarray, p: np.ndarray, scratch: _LogisticScratch) -> None:
    """The packet path into `p`, each step rounded as Eigen's AVX code does; the caller silences
    floating-point warnings (NaN). Below _LOGISTIC_LO the result is 0: clamping x there gives
    exp(x) far below the smallest normal float, which the flush turns into that 0."""
    v, m, r, r2, q, exponent, small = scratch.take(x.size)
    half, one = _F32(0.5), _F32(1)
    np.maximum(x, _LOGISTIC_LO, out=v)  # the clamp as two ufuncs (np.clip's wrapper costs more
    np.minimum(v, _LOGISTIC_HI, out=v)  # than both on an RNN step's few values); NaN stays NaN
    v *= half
    np.multiply(v, _LOG2E, out=m)
    m += half
    np.floor(m, out=m)
    np.multiply(m, _LN2_HI, out=r)
    r += v
    np.multiply(m, _LN2_LO, out=v)
    r += v
    np.multiply(r, r, out=r2)
    np.multiply(r2, _EXP_P4, out=q)
    q += _EXP_P2
    np.multiply(r2, _EXP_P5, out=p)
    p += _EXP_P3
    p *= r
    p += q
    p *= r2
    r += one
    p += r
    # 2^m from its exponent bits: m stays within [-75, 12] for x in [-104, 16.6]
    np.add(m, _F32(127), out=m)  # exact: small integers
    exponent[...] = m
    exponent <<= 23
    p *= exponent.view(_F32)
    p *= p
    np.less(p, _TINY, out=small)  # p >= 0: only denormals (and zeros) are below the smallest normal
    np.add(p, one, out=q)
    np.divide(p, q, out=p)
    p[small] = 0  # (np.copyto with where= is ten times slower)


# --------------------------------------------------------------------------- tanh

# A [9/8] rational minimax approximation (odd numerator, even denominator) on x clamped to where it
# first reaches exactly 1 (this clamp is the one for Eigen built without FMA); packets and the scalar
# path alike (Eigen's ptanh_float).
_TANH_CLAMP = _F32(7.90738964080810547)
_TANH_ALPHA = tuple(_F32(c) for c in (1.394553628e-8, 2.102733560e-5, 3.520756727e-3, 1.340216100e-1))
_TANH_BETA = tuple(_F32(c) for c in (8.015776984e-7, 3.326951409e-4, 2.597254514e-2, 4.673548340e-1, 1.0))


def _horner(x: np.ndarray, coefficients: tuple[np.float32, ...]) -> np.ndarray:
    """((c0 x + c1) x + c2) ...: each multiply and add rounded (Eigen's ppolevl without FMA)."""
    acc = x * coefficients[0]
    acc += coefficients[1]
    for c in coefficients[2:]:
        acc *= x
        acc += c
    return acc


def tanh_float32(x: np.ndarray) -> np.ndarray:
    """TensorFlow's CPU Tanh: (x^3 p(x^2) + x) / q(x^2) on the clamped, denormal-flushed input."""
    flat = _zero_denormals(x.reshape(-1))
    out = np.empty_like(flat)
    with np.errstate(all="ignore"):
        for start in range(0, flat.size, _CHUNK):
            v = np.maximum(flat[start : start + _CHUNK], -_TANH_CLAMP)
            np.minimum(v, _TANH_CLAMP, out=v)
            x2 = v * v
            p = _horner(x2, _TANH_ALPHA)
            p *= x2 * v
            p += v
            out[start : start + _CHUNK] = p / _horner(x2, _TANH_BETA)
    return out.reshape(x.shape)


# --------------------------------------------------------------------------- rsqrt


@functools.cache
def rsqrt_estimate_fractions() -> np.ndarray:
    """The committed `vrsqrtps` table: 8192 12-bit fractions (tools/make_rsqrt_table.py)."""
    from savedmodel.ops._rsqrt_estimate import ESTIMATE_FRACTIONS

    deltas = np.frombuffer(zlib.decompress(base64.b64decode("".join(ESTIMATE_FRACTIONS))), "<i2")
    return np.cumsum(deltas, dtype=np.int32).astype(np.int16)


@functools.cache
def _estimate_bits() -> np.ndarray:
    """The table's estimates for [1, 4) (floats in [0.5, 1)) as their bits, indexed by the low
    exponent bit flipped and the top 12 mantissa bits."""
    return (_F32(0.5) + rsqrt_estimate_fractions().astype(_F32) * _F32(2.0**-13)).view(np.uint32)


_POSITIVE_NORMAL_SPAN = np.uint32(0x7F000000)  # bits - smallest normal < this: finite, normal, > 0


def rsqrt_estimate(x: np.ndarray) -> np.ndarray:
    """`vrsqrtps`: for x = 4^j x' with x' in [1, 4), the table's estimate(x') * 2^-j; zero and
    denormals (DAZ) give an infinity of their sign, +inf gives 0, negatives and NaN give NaN
    (the caller silences floating-point warnings)."""
    bits = x.view(np.uint32)
    # biased exponent E = e + 127: e's parity is the flipped low bit of E; j = floor(e / 2)
    index = ((bits >> 11) & 0x1FFF) ^ 0x1000
    j = ((bits >> 23).astype(np.int32) - 127) >> 1
    estimate = (_estimate_bits()[index].astype(np.int32) - (j << 23)).view(_F32)
    if not ((bits - np.uint32(0x00800000)) < _POSITIVE_NORMAL_SPAN).all():  # zeros, denormals, inf, NaN, < 0
        exponent = (bits >> 23) & 0xFF
        zero = exponent == 0
        estimate[zero] = np.copysign(np.inf, x[zero]).astype(_F32)
        estimate[exponent == 255] = np.where(np.isnan(x[exponent == 255]), np.nan, 0).astype(_F32)
        estimate[(x < 0) & ~zero] = np.nan
    return estimate


def rsqrt_float32(x: np.ndarray) -> np.ndarray:
    """TensorFlow's CPU float32 rsqrt (the Rsqrt op, FusedBatchNorm's rsqrt(variance + epsilon)):
    one Newton step on `vrsqrtps` for packets (y0 when the step gives NaN), 1 / sqrt(x) on the rest.
    """
    flat = np.ascontiguousarray(x, dtype=_F32).reshape(-1)
    packed = _split(flat.size)
    out = np.empty_like(flat)
    with np.errstate(all="ignore"):
        a = _zero_denormals(flat[:packed])
        y0 = rsqrt_estimate(a)
        r2 = a * y0
        half_y = y0 * _F32(-0.5)
        h = r2 * y0 + _F32(-1)
        y = half_y * h + y0
        out[:packed] = np.where(np.isnan(y), y0, y)
        out[packed:] = _F32(1) / np.sqrt(_zero_denormals(flat[packed:]))
    return out.reshape(np.shape(x))
