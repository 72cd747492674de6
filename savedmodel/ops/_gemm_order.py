"""float32 matrix products summed in TensorFlow's x86 CPU order, at the cost of NumPy's BLAS.

TensorFlow (oneDNN graph rewrites off, the default on AMD and older Intel CPUs) computes a float32
MatMul or Conv2D as an Eigen tensor contraction whose blocks run oneDNN's sgemm kernel. What decides
the rounding of each output, as measured against TensorFlow 2.21 (tools/tf_gemm_order.py holds the
exact emulation; tests/ops/test_gemm_order.py the goldens):

1. The contraction dimension K is cut into equal slices: count = ceil(K / kc), length
   roundup(K // count, 8), the last one shorter. Each slice is one chain of fused multiply-adds
   in k order, from zero; the slices are added to the output in order.
2. kc comes from Eigen's cache-based blocking heuristic. Facts used here: Eigen's float register
   block in TensorFlow's AVX (no FMA) build is mr x nr = 16 x 4; a single-threaded product blocks
   K at ((L1 - 4 mr nr) / (4 (mr + nr))) rounded down to a multiple of 8 (400 for a 32 KiB L1);
   a multi-threaded one at min((L1 - 4 mr nr) / (4 (mr + nr)), 320), same rounding (320). Which
   of the two runs is Eigen's thread cost model (`_eigen_threads`): the product's cost, estimated
   per output from K's block, the loads and a store, against 100000 cycles per thread, for as
   many threads as this process may use (TensorFlow's default pool). A Conv2D over image patches
   (all but 1x1 unit-stride filters) prices each patch coefficient's index arithmetic too.
   (A K block is also lowered so that the last one is as full as possible; the slice count, all
   that matters here, stays ceil(K / kc).)
3. oneDNN's kernel cuts a slice longer than 384 into ceil(L / 384) chains, the first ones of
   ceil(L / count): a 400 slice is summed as 200 + 200.
4. Not modelled, so plain NumPy (another order) is used: a single-row or single-column product
   (Eigen's matrix-vector path), a product that Eigen shards along K across threads (small outputs
   with a long K: `_shards_inner_dim`), K beyond 16384, and any BLAS but the OpenBLAS kernels
   checked below.

Each slice then goes to NumPy's OpenBLAS as one sgemm. OpenBLAS's SkylakeX-family sgemm kernels
(AVX-512; `SkylakeX`, `Cooperlake`, `SapphireRapids`) also sum each output as one FMA chain from
zero in k order while K stays within their K block (448) -- except the "small matrix" kernel
(M * N * K <= 1e6) for an output width whose remainder modulo 16 is 1..8 and K >= 32, which takes
dot products along k in 16 lanes; those products get their width padded to a multiple of 16. The
Haswell/Zen kernels split K differently (measured) and are not used.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
from collections.abc import Sequence
from pathlib import Path

import numpy as np

F32 = np.float32
SLICE_ALIGN = 8
# Eigen's float register block (rows x columns) in TensorFlow's x86 build, and its cap on a
# multi-threaded product's K block.
_MR, _NR = 16, 4
_THREADED_KC_CAP = 320
_PACKET = 8  # floats per AVX packet
# Eigen's thread cost model (cycles): startup and per-thread costs, L2 load/store cost per byte.
_STARTUP_CYCLES = _PER_THREAD_CYCLES = 100000.0
_LOAD_CYCLES = _STORE_CYCLES = 11.0 / 64
_INNER_FIXED_OVERHEAD, _INNER_PER_THREAD_OVERHEAD = 100000.0, 3000.0
# Eigen's compute cost of one image-patch coefficient (index arithmetic: 3 divisions and 14
# multiplications of 64-bit integers), per packet.
_PATCH_CYCLES = (3 * 24 + 14) / _PACKET
# OpenBLAS cores whose sgemm sums in chains as described above; their K block.
_CHAINED_CORES = frozenset({"skylakex", "cooperlake", "sapphirerapids"})
_BLAS_K_BLOCK = 448
# oneDNN's sgemm kernel cuts K into ceil(K / 384) equal blocks (first ones rounded up), each a chain.
_ONEDNN_K_BLOCK = 384
_SMALL_KERNEL_MNK = 1_000_000
_MAX_K = 16384
_CORENAME_SYMBOLS = (
    "scipy_openblas_get_corename64_",
    "scipy_openblas_get_corename",
    "openblas_get_corename64_",
    "openblas_get_corename",
)


def _cache_sizes() -> tuple[int, int, int]:
    """L1 data, L2 and L3 sizes in bytes (Linux sysfs), Eigen's x86 defaults where unknown."""
    sizes = {1: 32 * 1024, 2: 256 * 1024, 3: 2 * 1024 * 1024}
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    try:
        for entry in base.glob("index*"):
            level = int((entry / "level").read_text())
            kind = (entry / "type").read_text().strip()
            size = (entry / "size").read_text().strip()
            if kind != "Instruction" and size.endswith("K"):
                sizes[level] = int(size[:-1]) * 1024
    except (OSError, ValueError):
        pass
    return sizes[1], sizes[2], sizes[3]


# Set to "blas" to keep NumPy's own product order (faster; results then differ from TensorFlow's in
# the last bits, as with any other BLAS).
ORDER_ENV = "SAVEDMODEL_GEMM_ORDER"


@functools.cache
def _machine() -> tuple[int, int, int] | None:
    """(kc of a single-threaded product, kc of a multi-threaded one, TensorFlow's thread count),
    or None where the order is not modelled (not x86, or a BLAS whose order is not known) or
    not wanted (SAVEDMODEL_GEMM_ORDER=blas)."""
    if os.environ.get(ORDER_ENV, "").strip().lower() == "blas":
        return None
    if platform.machine().lower() not in ("x86_64", "amd64") or _openblas_core() not in _CHAINED_CORES:
        return None
    l1 = _cache_sizes()[0]
    per_k = (l1 - 4 * _MR * _NR) // (4 * (_MR + _NR))
    sequential = max(per_k & ~(SLICE_ALIGN - 1), 1)
    threaded = max(SLICE_ALIGN, min(per_k, _THREADED_KC_CAP))
    threaded -= threaded % SLICE_ALIGN
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return sequential, threaded, threads


def _openblas_core() -> str | None:
    """The OpenBLAS kernel family NumPy's BLAS runs on this CPU, lower case (None if not OpenBLAS)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    paths = {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower() and "/" in line}
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _CORENAME_SYMBOLS:
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return (fn() or b"").decode().lower()
    return None


# ---------------------------------------------------------------- Eigen's choice of path
# In Eigen's column-major view of TensorFlow's row-major product a [M, K] @ b [K, N] = c [M, N],
# the rows are N ("m" below) and the columns M ("n"); Eigen's left operand is b, its right one a.


def _shard_by_col(m: int, n: int, threads: int) -> bool:
    if m // threads >= _NR and (
        n // threads < _NR
        or (n // threads < 4 * _NR and n % (threads * _NR) != 0 and (m % (threads * _NR) == 0 or m // n >= 6))
    ):
        return False
    return not (n // threads < 16 * _NR and m > n * 32)


def _cycles(loaded: float, stored: float, compute: float) -> float:
    return loaded * _LOAD_CYCLES + stored * _STORE_CYCLES + compute


def _threaded_kc(k: int, kc: int) -> int:
    return kc if kc < k else k


def _eigen_threads(m: int, n: int, k: int, kc_threaded: int, threads: int, right_cycles: float) -> int:
    """Threads Eigen's cost model gives an m x n output with inner dimension k (2 as first guess);
    right_cycles: the compute cost of one coefficient of the right operand (TensorFlow's a)."""
    by_col = _shard_by_col(m, n, 2)
    bk = _tf_block(k, _threaded_kc(k, kc_threaded))
    bandwidth = 2.0 if m < _NR or n < _MR else 1.0
    if bk == 1:
        bandwidth = 4.0
    operand_bytes = 4 * bk / m if by_col else 4 * bk / n  # the packed operand's loads are not counted
    per_output = _cycles(operand_bytes, 4, bk * bandwidth / _PACKET + right_cycles * bk / m)
    total = m * n * per_output
    estimate = (total - _STARTUP_CYCLES) / _PER_THREAD_CYCLES + 0.9
    return min(threads, max(1, int(min(estimate, 2**31 - 1))))


def _threads_inner_dim(m: int, n: int, k: int, threads: int, right_cycles: float) -> int:
    bandwidth = 2.0 if n < _NR or m < _MR else 1.0
    per_k = _cycles(4 * n, 4, m * n * bandwidth / _PACKET + right_cycles * n)
    parallel = k * per_k
    reduction = m * n * _cycles(2, 1, 1 / _PACKET)
    best, best_cost = 1, parallel
    for nt in range(2, threads + 1, 2):
        cost = parallel / nt + _INNER_FIXED_OVERHEAD + nt * (reduction + _INNER_PER_THREAD_OVERHEAD)
        if cost < best_cost:
            best, best_cost = nt, cost
    return best


def _shards_inner_dim(m: int, n: int, k: int, threads: int, by_k: int, l3: int) -> bool:
    if n == 1 or by_k < 2 or by_k < threads or m * n * 4 > l3 // by_k or k // by_k < 2 * _NR:
        return False
    return max(m, n) // threads < _NR or (k // by_k > 8 * _NR and (min(m, n) < 2 * _NR or by_k > threads))


def _tf_block(k: int, kc: int) -> int:
    """TensorFlow's slice length for Eigen's K block kc: K cut in ceil(K / kc) equal slices."""
    count = max(1, -(-k // kc))
    return min(k, -(-(k // count) // SLICE_ALIGN) * SLICE_ALIGN)


def _sequential_kc(k: int, max_kc: int) -> int:
    """Eigen's single-threaded K block: max_kc, lowered so that the last block is as full as
    possible without adding a sweep."""
    if k <= max_kc:
        return k
    if k % max_kc == 0:
        return max_kc
    return max_kc - SLICE_ALIGN * ((max_kc - 1 - k % max_kc) // (SLICE_ALIGN * (k // max_kc + 1)))


@functools.lru_cache(maxsize=4096)  # a model has few product shapes; a call then only looks them up
def slice_bounds(rows: int, cols: int, k: int, patches: bool = False) -> tuple[tuple[int, int], ...] | None:
    """TensorFlow's K slices [start, stop) for a [rows, k] @ [k, cols] float32 product on this
    machine, in summation order, or None where its order is not modelled (module docstring).
    `patches`: the left operand is a convolution's image patches (Eigen prices them higher)."""
    machine = _machine()
    if machine is None or rows <= 1 or cols <= 1 or k > _MAX_K or k == 0:
        return None
    kc_sequential, kc_threaded, threads = machine
    m, n = cols, rows  # Eigen's view
    right_cycles = _PATCH_CYCLES if patches else 0.0
    used = _eigen_threads(m, n, k, kc_threaded, threads, right_cycles)
    by_k = _threads_inner_dim(m, n, k, threads, right_cycles)
    if _shards_inner_dim(m, n, k, used, by_k, _cache_sizes()[2]):
        return None
    kc = _sequential_kc(k, kc_sequential) if used == 1 else _threaded_kc(k, kc_threaded)
    length = _tf_block(k, kc)
    bounds: list[tuple[int, int]] = []
    for start in range(0, k, length):
        stop = min(start + length, k)
        parts = -(-(stop - start) // _ONEDNN_K_BLOCK)  # oneDNN's sgemm halves a longer slice
        step = -(-(stop - start) // parts)
        bounds += [(i, min(i + step, stop)) for i in range(start, stop, step)]
    if max(stop - start for start, stop in bounds) > _BLAS_K_BLOCK:  # OpenBLAS would split the chain
        return None
    return tuple(bounds)


# ---------------------------------------------------------------- the products


def _dot_kernel(rows: int, cols: int, k: int) -> bool:
    """Whether OpenBLAS's small-matrix sgemm would sum this product as 16-lane dot products."""
    return rows * cols * k <= _SMALL_KERNEL_MNK and 1 <= cols % 16 <= 8 and k >= 32


def sliced_matmul(
    a: np.ndarray, b: np.ndarray, bounds: Sequence[tuple[int, int]], out: np.ndarray | None = None
) -> np.ndarray:
    """a [M, K] @ b [K, N] (float32, C-contiguous) summed as TensorFlow does: one BLAS product per
    K slice in `bounds` (each within OpenBLAS's K block), added to the output in order. `out`, if
    given, is a C-contiguous [M, N] float32 array that receives the result."""
    rows, k = a.shape
    cols = b.shape[1]
    if out is None:
        out = np.empty((rows, cols), F32)
    if k == 0:
        out[...] = 0
        return out
    padded = part = None
    for start, stop in bounds:
        if _dot_kernel(rows, cols, stop - start):
            if padded is None:  # wider, so that OpenBLAS keeps its FMA chains
                padded = np.zeros((k, cols + 16 - cols % 16), F32)
                padded[:, :cols] = b
            part = np.matmul(a[:, start:stop], padded[start:stop])[:, :cols]
        elif start == 0:
            np.matmul(a[:, start:stop], b[start:stop], out=out)
            continue
        else:
            if part is None or part.base is not None:
                part = np.empty_like(out)  # one buffer for all the slices' products
            np.matmul(a[:, start:stop], b[start:stop], out=part)
        if start == 0:
            out[...] = part
        else:
            np.add(out, part, out=out)
    return out


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a [M, K] @ b [K, N] for float32 matrices, in TensorFlow's order where modelled, else NumPy's."""
    if a.dtype != F32 or b.dtype != F32:
        return np.matmul(a, b)
    rows, k = a.shape
    cols = b.shape[1]
    bounds = slice_bounds(rows, cols, k)
    if bounds is None or (len(bounds) == 1 and not _dot_kernel(rows, cols, k)):
        # one chain from zero: what one BLAS product of the contiguous operands sums anyway
        return np.matmul(np.ascontiguousarray(a), np.ascontiguousarray(b))
    return sliced_matmul(np.ascontiguousarray(a), np.ascontiguousarray(b), bounds)
