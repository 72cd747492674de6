"""The exact emulation of float32 MatMul / Conv2D summed in TensorFlow's x86 CPU order (oneDNN off),
measured on an AMD EPYC (Zen 4, 2 cores): one FMA per step in NumPy, ~6x a BLAS product. savedmodel's
kernels sum in this order through NumPy's OpenBLAS, one sgemm per slice (savedmodel/ops/_gemm_order.py,
which also derives the slicing from Eigen's blocking and thread cost model: K blocks of 400 on one
thread, 320 on several, a slice over 384 halved by oneDNN, K sharded across threads not modelled);
tests/ops/test_gemm_order.py checks the two against each other. `install()` swaps this emulation in
for one process (`python -m tools.effnet_spread --tf-gemm-order`), with the fixed kc below.

What TensorFlow 2.21 runs (its Eigen contraction with the oneDNN sgemm "custom contraction kernel";
1x1 Conv2D, MatMul and im2col-style spatial Conv2D alike), as reproduced bit for bit here:

1. The contraction dimension K is cut into equal slices: slices = ceil(K / kc), slice length
   roundup(K // slices, 8), the last one shorter. kc is Eigen's cache-derived block size; on this
   machine every unsharded case measured fits kc = 388 (K = 520 -> 264 + 256, 672 -> 336 * 2,
   769 -> 384 * 2 + 1, 777 -> 264 * 2 + 249, 1152 -> 384 * 3, 2048 -> 344 * 5 + 328,
   4608 -> 384 * 12), but kc depends on M, N (a 16 x 16 output with K = 1152 took 288 * 4).
2. Each slice is one chain of fused multiply-adds in k order, from zero (oneDNN's AVX-512 kernel,
   one rounding per step); the slices are added to the output in order.
3. For larger problems Eigen's thread pool also shards K across threads ("shard by inner dim",
   decided by a cost model from M, N, K and the number of threads): K = 1000 with a 64 x 40 output
   went into 2 shards of 504 + 496, each cut as in 1. (256 + 248, 248 + 248), the shards' sums
   added at the end. `matmul(..., shards=2)` reproduces that; when Eigen shards is not modelled.
4. A single-row MatMul (M = 1) takes another path (not reproduced).

EfficientNetB0 (32x32, batch 2; 65 Conv2D, 1 MatMul; K <= 1280, no sharding) is reproduced exactly:
with this order, Eigen's Sigmoid and the vrsqrtps-based BatchNorm factor, savedmodel's logits equal
TensorFlow's bit for bit on all 11 variants of tools/effnet_spread.py. The cost: one NumPy step per
k of the longest slice (all slices and shards at once), ~130 ms CPU per EfficientNetB0 inference
against ~21 ms with NumPy's BLAS. Not modelled: how Eigen picks kc and the shards from the cache
sizes and the thread count (so another machine may slice differently), flushing of denormal sums.
"""

from __future__ import annotations

from typing import Any

import numpy as np

F32, F64 = np.float32, np.float64
KC = 388
SLICE_ALIGN = 8


def fma32(a64: np.ndarray, b64: np.ndarray, c32: np.ndarray) -> np.ndarray:
    """float32 fma(a, b, c) for float32 values a, b given as float64: the product is exact in
    float64; the sum is rounded to float64 and then to float32, and where that double rounding
    lands on a float32 midpoint the TwoSum error decides the side (one correct rounding)."""
    product = a64 * b64
    c = c32.astype(F64)
    s = product + c
    bp = s - c
    error = (product - bp) + (c - (s - bp))
    r = s.astype(F32)
    back = r.astype(F64)
    below, above = np.nextafter(r, F32(-np.inf)), np.nextafter(r, F32(np.inf))
    other = np.where(back > s, below, above)  # the float32 on the other side of s
    midpoint = (back + other.astype(F64)) / 2 == s
    tie = midpoint & (error != 0)
    if tie.any():
        # the exact value is s + error: pick the neighbour on that side
        toward_other = (other.astype(F64) > s) == (error > 0)
        r = np.where(tie & toward_other, other, r)
    return r


def slices(start: int, stop: int, kc: int = KC) -> list[tuple[int, int]]:
    k = stop - start
    count = max(1, -(-k // kc))
    length = min(k, -(-(k // count) // SLICE_ALIGN) * SLICE_ALIGN)
    return [(i, min(i + length, stop)) for i in range(start, stop, length)]


_MIDPOINT_MASK, _MIDPOINT = np.int64(0x1FFFFFFF), np.int64(0x10000000)  # float64 bits below float32's


def _fma_step(product: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """float32 round(product + acc) for an exact float64 product: the float64 sum rounded to float32,
    corrected where that double rounding met a float32 midpoint (rare: checked by bit pattern)."""
    s = product + acc
    r = s.astype(F32)
    tie = (s.view(np.int64) & _MIDPOINT_MASK) == _MIDPOINT
    if tie.any():
        r[tie] = fma32(product[tie], np.ones(1), acc[tie])
    return r


def _chains(a64: np.ndarray, b64: np.ndarray, bounds: list[tuple[int, int]]) -> list[np.ndarray]:
    """One FMA chain per (start, stop), all chains stepped together (shorter ones padded with zero
    products at their end, which leave them unchanged)."""
    m, n = a64.shape[0], b64.shape[1]
    length = max(stop - start for start, stop in bounds)
    a3 = np.zeros((len(bounds), m, length))
    b3 = np.zeros((len(bounds), length, n))
    for c, (start, stop) in enumerate(bounds):
        a3[c, :, : stop - start] = a64[:, start:stop]
        b3[c, : stop - start, :] = b64[start:stop, :]
    acc = np.zeros((len(bounds), m, n), F32)
    for t in range(length):
        acc = _fma_step(a3[:, :, t, None] * b3[:, None, t, :], acc)
    return list(acc)


def matmul(a: np.ndarray, b: np.ndarray, kc: int = KC, shards: int = 1) -> np.ndarray:
    """a [M, K] @ b [K, N] in float32, summed in the order described in the module docstring."""
    m, k = a.shape
    n = b.shape[1]
    if k == 0:
        return np.zeros((m, n), F32)
    shard_bounds = slices(0, k, -(-k // shards))
    per_shard = [slices(start, stop, kc) for start, stop in shard_bounds]
    chains = iter(_chains(a.astype(F64), b.astype(F64), [x for bounds in per_shard for x in bounds]))
    total = None
    for bounds in per_shard:
        shard = next(chains)
        for _ in bounds[1:]:
            shard = shard + next(chains)
        total = shard if total is None else total + shard
    return total


def install() -> None:
    """Swap float32 Conv2D (ungrouped) and MatMul for this order, in this process only."""
    from savedmodel.ops import math as math_ops
    from savedmodel.ops import nn

    plain_conv, plain_matmul = nn.conv_nd, math_ops._matmul_compute

    def conv(x: np.ndarray, w: np.ndarray, geom: Any) -> np.ndarray:
        rank = x.ndim - 2
        if x.dtype != F32 or w.shape[rank] != x.shape[-1] or x.shape[0] == 0:
            return plain_conv(x, w, geom)
        ks, cout = list(w.shape[:rank]), w.shape[-1]
        outs, pads = geom.resolve(x.shape[1:-1], ks)
        if any(o == 0 for o in outs):
            return plain_conv(x, w, geom)
        windows = nn._windows(nn._pad_spatial(x, pads), ks, geom.strides, geom.dilations, outs)
        cols = np.moveaxis(windows, 1 + rank, -1).reshape(-1, int(np.prod(ks)) * x.shape[-1])
        return matmul(cols, w.reshape(-1, cout)).reshape(x.shape[0], *outs, cout)

    def matmul_compute(a: np.ndarray, b: np.ndarray, out_dtype: np.dtype) -> np.ndarray:
        if a.dtype == F32 and b.dtype == F32 and a.shape[0] > 1:
            return matmul(a, b)
        return plain_matmul(a, b, out_dtype)

    nn.conv_nd, math_ops._matmul_compute = conv, matmul_compute
