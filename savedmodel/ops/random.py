"""Random ops.

Stateless uniform, normal, truncated-normal and uniform-int ops (V1 and V2, and
StatelessRandomGetKeyCounter), StatelessRandomBinomial and StatelessMultinomial reproduce
TensorFlow's CPU Philox-4x32-10 streams bit for bit (StatelessMultinomial: while TensorFlow runs the
batch as one shard, i.e. small batch * samples * classes; larger batches are split across its thread
pool, each shard restarting the stream, so TensorFlow's own values depend on the machine's thread
count there). The stateful ops (RandomUniform...) and the other stateless distributions (gamma,
Poisson) draw from NumPy instead: values differ from TensorFlow's for the same seed, while shapes,
dtypes, ranges and distributions match. A stateful node whose seed attrs are set is reproducible
from run to run of a loaded model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from savedmodel.ops._common import FLOATS, as_dtype, fail, int_list, scalar_int, shape_str
from savedmodel.ops.registry import NodeSpec, kernel_factory
from savedmodel.policy import check_tensor_bytes


def _shape(value: np.ndarray) -> list[int]:
    dims = int_list(value, "shape")
    if any(d < 0 for d in dims):
        fail(f"shape must be non-negative: {dims}")
    check_tensor_bytes(dims, 8, "random op shape")  # the caller's limits (set per call by the loader)
    return dims


def _node_rng(node: NodeSpec) -> np.random.Generator:
    seed, seed2 = int(node.attrs.get("seed", 0)), int(node.attrs.get("seed2", 0))
    if seed == 0 and seed2 == 0:
        return np.random.default_rng()
    return np.random.default_rng([seed & 0xFFFFFFFF, seed2 & 0xFFFFFFFF])


def _stateless_rng(seed: np.ndarray, *extra: np.ndarray) -> np.random.Generator:
    words = [int(v) & 0xFFFFFFFFFFFFFFFF for v in np.asarray(seed).reshape(-1)]
    for e in extra:
        words += [int(v) & 0xFFFFFFFFFFFFFFFF for v in np.asarray(e).reshape(-1)]
    return np.random.default_rng(words)


def _truncated_normal(rng: np.random.Generator, shape: list[int]) -> np.ndarray:
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out


def _float_sampler(kind: str) -> Any:
    def sample(rng: np.random.Generator, shape: list[int], dtype: np.dtype) -> np.ndarray:
        if kind == "uniform":
            values = rng.random(shape)
            out = as_dtype(values, dtype)
            return np.where(
                out >= 1, np.asarray(np.nextafter(np.float32(1), np.float32(0))).astype(dtype), out
            )
        if kind == "normal":
            return as_dtype(rng.standard_normal(shape), dtype)
        return as_dtype(_truncated_normal(rng, shape), dtype)

    return sample


for _op, _kind in [
    ("RandomUniform", "uniform"),
    ("RandomStandardNormal", "normal"),
    ("TruncatedNormal", "truncated"),
]:

    def _make(kind: str) -> Any:
        def prepare(node: NodeSpec) -> Any:
            dtype = node.attrs.dtype("dtype")
            rng = _node_rng(node)
            sample = _float_sampler(kind)
            return lambda ctx, shape: sample(rng, _shape(shape), dtype)

        return prepare

    kernel_factory(_op, family="random", stateful=True, dtypes=FLOATS)(_make(_kind))


def _check_int_range(lo: int, hi: int) -> None:
    if lo >= hi:
        fail(f"Need minval < maxval: {lo} >= {hi}")


@kernel_factory("RandomUniformInt", family="random", stateful=True, dtypes=("int32", "int64"))
def _random_uniform_int(node: NodeSpec) -> Any:
    rng = _node_rng(node)

    def run(ctx: Any, shape: np.ndarray, minval: np.ndarray, maxval: np.ndarray) -> np.ndarray:
        lo, hi = scalar_int(minval, "minval"), scalar_int(maxval, "maxval")
        dims = _shape(shape)
        if int(np.prod(dims)) > 0:
            _check_int_range(lo, hi)
            return rng.integers(lo, hi, size=dims).astype(minval.dtype)
        return np.zeros(dims, dtype=minval.dtype)

    return run


@kernel_factory("RandomShuffle", family="random", stateful=True, dtypes=("all",))
def _random_shuffle(node: NodeSpec) -> Any:
    rng = _node_rng(node)

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        if x.ndim == 0:
            return x
        return x[rng.permutation(x.shape[0])]

    return run


def _multinomial(rng: np.random.Generator, logits: np.ndarray, n: int, out: np.dtype) -> np.ndarray:
    if logits.ndim != 2:
        fail(f"logits should be a matrix, got shape {shape_str(logits.shape)}")
    if n < 0:
        fail(f"num_samples should be nonnegative, got {n}")
    batch, classes = logits.shape
    if classes == 0 and n > 0:
        fail("num_classes should be positive")
    result = np.zeros((batch, n), dtype=out)
    for b in range(batch):
        row = logits[b].astype(np.float64)
        finite = np.isfinite(row)
        probs = np.where(finite, np.exp(row - np.max(row[finite]) if finite.any() else row), 0)
        total = probs.sum()
        if total <= 0:
            result[b] = classes - 1
            continue
        result[b] = rng.choice(classes, size=n, p=probs / total)
    return result


@kernel_factory("Multinomial", family="random", stateful=True, dtypes=FLOATS)
def _multinomial_kernel(node: NodeSpec) -> Any:
    rng = _node_rng(node)
    out = node.attrs.dtype("output_dtype", 9)
    return lambda ctx, logits, num: _multinomial(rng, logits, scalar_int(num, "num_samples"), out)


@kernel_factory("StatelessMultinomial", family="random", dtypes=FLOATS)
def _stateless_multinomial(node: NodeSpec) -> Any:
    out = node.attrs.dtype("output_dtype", 9)

    def run(ctx: Any, logits: np.ndarray, num: np.ndarray, seed: np.ndarray) -> np.ndarray:
        if np.asarray(seed).shape != (2,):
            fail(f"seed must have shape [2], not {shape_str(np.shape(seed))}")
        key, counter = _seed_key_counter(seed)
        return philox_multinomial(key, counter, logits, scalar_int(num, "num_samples"), out)

    return run


# --------------------------------------------------------------------------- Philox-4x32-10

_M32 = np.uint64(0xFFFFFFFF)


def _philox_blocks(
    key: tuple[int, int], counter: tuple[int, int, int, int], n: int, offsets: np.ndarray | None = None
) -> np.ndarray:
    """[n, 4] uint32 outputs of Philox-4x32-10 for counters counter + offsets (default 0, 1, ...),
    with 128-bit carries."""
    idx = np.arange(n, dtype=np.uint64) if offsets is None else offsets.astype(np.uint64)
    c = [np.uint64(v) for v in counter]
    w0 = c[0] + idx
    carry = w0 >> np.uint64(32)
    w0 &= _M32
    w1 = c[1] + carry
    carry = w1 >> np.uint64(32)
    w1 &= _M32
    w2 = c[2] + carry
    carry = w2 >> np.uint64(32)
    w2 &= _M32
    w3 = (c[3] + carry) & _M32
    k0 = np.uint64(key[0])
    k1 = np.uint64(key[1])
    for i in range(10):
        p0 = np.uint64(0xD2511F53) * w0
        p1 = np.uint64(0xCD9E8D57) * w2
        w0, w1, w2, w3 = (
            (p1 >> np.uint64(32)) ^ w1 ^ k0,
            p1 & _M32,
            (p0 >> np.uint64(32)) ^ w3 ^ k1,
            p0 & _M32,
        )
        if i < 9:
            k0 = (k0 + np.uint64(0x9E3779B9)) & _M32
            k1 = (k1 + np.uint64(0xBB67AE85)) & _M32
    return np.stack([w0, w1, w2, w3], axis=1).astype(np.uint32)


def _seed_key_counter(seed: np.ndarray) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """TensorFlow's scrambling of a [2] seed into a Philox key and counter."""
    values = [int(v) & 0xFFFFFFFFFFFFFFFF for v in np.asarray(seed).reshape(-1)]
    if len(values) != 2:
        fail(f"seed must have shape [2], not {shape_str(np.shape(seed))}")
    s0, s1 = values
    counter = (s0 & 0xFFFFFFFF, s0 >> 32, s1 & 0xFFFFFFFF, s1 >> 32)
    mix = _philox_blocks((0x3EC8F720, 0x02461E29), counter, 1)[0]
    return (int(mix[0]), int(mix[1])), (0, 0, int(mix[2]), int(mix[3]))


def _key_counter_from_tensors(
    key: np.ndarray, counter: np.ndarray, alg: np.ndarray
) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    algorithm = int(np.asarray(alg).reshape(-1)[0])
    if algorithm not in (1, 3):  # RNG_ALG_PHILOX, RNG_ALG_AUTO_SELECT (Philox on CPU)
        fail(f"Unsupported random algorithm {algorithm}: only Philox is implemented")
    k = int(np.asarray(key).reshape(-1)[0]) & 0xFFFFFFFFFFFFFFFF
    cw = [int(v) & 0xFFFFFFFFFFFFFFFF for v in np.asarray(counter).reshape(-1)] + [0, 0]
    return (k & 0xFFFFFFFF, k >> 32), (cw[0] & 0xFFFFFFFF, cw[0] >> 32, cw[1] & 0xFFFFFFFF, cw[1] >> 32)


def _words(key: tuple[int, int], counter: tuple[int, int, int, int], count: int) -> np.ndarray:
    """At least `count` uint32 words of the stream, in order."""
    return _philox_blocks(key, counter, max((count + 3) // 4, 0)).reshape(-1)


def _uniform_bits(words: np.ndarray, dtype: np.dtype, n: int) -> np.ndarray:
    if dtype == np.float64:
        w = words[: 2 * n].astype(np.uint64).reshape(-1, 2)
        man = ((w[:, 0] & np.uint64(0xFFFFF)) << np.uint64(32)) | w[:, 1]
        return (man | np.uint64(1023 << 52)).view(np.float64) - 1.0
    if dtype == np.float16:
        bits = (words[:n] & np.uint32(0x3FF)) | np.uint32(15 << 10)
        return bits.astype(np.uint16).view(np.float16) - np.float16(1)
    if dtype.name == "bfloat16":
        bits = (words[:n] & np.uint32(0x7F)) | np.uint32(127 << 7)
        return (bits.astype(np.uint16).view(dtype).astype(np.float32) - 1).astype(dtype)
    bits = (words[:n] & np.uint32(0x7FFFFF)) | np.uint32(127 << 23)
    return bits.view(np.float32) - np.float32(1)


def philox_uniform(
    key: tuple[int, int], counter: tuple[int, int, int, int], dims: list[int], dtype: np.dtype
) -> np.ndarray:
    n = int(np.prod(dims)) if dims else 1
    per = 2 if dtype == np.float64 else 1
    return _uniform_bits(_words(key, counter, n * per), dtype, n).astype(dtype).reshape(dims)


def philox_normal(
    key: tuple[int, int], counter: tuple[int, int, int, int], dims: list[int], dtype: np.dtype
) -> np.ndarray:
    """Box-Muller on consecutive word pairs (float32 math; float64 uses 4 words per pair)."""
    n = int(np.prod(dims)) if dims else 1
    if dtype == np.float64:
        pairs = (n + 1) // 2
        w = _words(key, counter, pairs * 4)[: pairs * 4].reshape(-1, 4)
        u1 = _uniform_bits(w[:, :2].reshape(-1), np.dtype(np.float64), pairs)
        u1 = np.maximum(u1, 1e-7)
        v1 = 2.0 * np.pi * _uniform_bits(w[:, 2:].reshape(-1), np.dtype(np.float64), pairs)
        u2 = np.sqrt(-2.0 * np.log(u1))
        out = np.stack([np.sin(v1) * u2, np.cos(v1) * u2], axis=1).reshape(-1)[:n]
        return out.reshape(dims)
    pairs = (n + 1) // 2
    w = _words(key, counter, pairs * 2)[: pairs * 2].reshape(-1, 2)
    u1 = _uniform_bits(w[:, 0].copy(), np.dtype(np.float32), pairs)
    u1 = np.maximum(u1, np.float32(1.0e-7))
    v1 = np.float32(2.0 * np.pi) * _uniform_bits(w[:, 1].copy(), np.dtype(np.float32), pairs)
    u2 = np.sqrt(np.float32(-2.0) * np.log(u1))
    out = np.stack([np.sin(v1) * u2, np.cos(v1) * u2], axis=1).reshape(-1)[:n]
    return out.astype(dtype).reshape(dims)


def _box_muller(words: np.ndarray, double: bool) -> np.ndarray:
    """Normals from rows of Philox words, in stream order: float32 uses 2 words per pair of
    outputs, float64 uses 4."""
    rows = words.shape[0]
    if double:
        w = words.reshape(rows, -1, 4)
        u1 = _uniform_bits(w[..., :2].reshape(-1).copy(), np.dtype(np.float64), w.shape[0] * w.shape[1])
        v1 = 2.0 * np.pi * _uniform_bits(w[..., 2:].reshape(-1).copy(), np.dtype(np.float64), u1.size)
        u1 = np.maximum(u1, 1e-7)
        u2 = np.sqrt(-2.0 * np.log(u1))
    else:
        w = words.reshape(rows, -1, 2)
        u1 = _uniform_bits(w[..., 0].reshape(-1).copy(), np.dtype(np.float32), w.shape[0] * w.shape[1])
        v1 = np.float32(2.0 * np.pi) * _uniform_bits(
            w[..., 1].reshape(-1).copy(), np.dtype(np.float32), u1.size
        )
        u1 = np.maximum(u1, np.float32(1.0e-7))
        u2 = np.sqrt(np.float32(-2.0) * np.log(u1))
    return np.stack([np.sin(v1) * u2, np.cos(v1) * u2], axis=1).reshape(rows, -1)


def philox_truncated_normal(
    key: tuple[int, int], counter: tuple[int, int, int, int], dims: list[int], dtype: np.dtype
) -> np.ndarray:
    """TensorFlow's truncated normal: each output group (4 values; 2 for float64) restarts the stream
    256 samples' worth of blocks further on and keeps Box-Muller values with |x| < 2, in order."""
    double = dtype == np.float64
    group = 2 if double else 4
    skip = group * 256 // 4
    n = int(np.prod(dims)) if dims else 1
    groups = (n + group - 1) // group
    out = np.empty(groups * group, dtype=np.float64 if double else np.float32)
    base = np.arange(groups, dtype=np.uint64) * np.uint64(skip)
    pending = np.arange(groups)
    tries = 4
    while pending.size:
        offsets = (base[pending][:, None] + np.arange(tries, dtype=np.uint64)[None, :]).reshape(-1)
        words = _philox_blocks(key, counter, offsets.size, offsets).reshape(pending.size, tries * 4)
        candidates = _box_muller(words, double)
        still = []
        for row, g in enumerate(pending):
            kept = candidates[row][np.abs(candidates[row]) < 2.0]
            if kept.size >= group:
                out[group * g : group * (g + 1)] = kept[:group]
            else:
                still.append(g)
        pending = np.array(still, dtype=np.int64)
        tries *= 4
    return out[:n].astype(dtype).reshape(dims)


def philox_uniform_int(
    key: tuple[int, int],
    counter: tuple[int, int, int, int],
    dims: list[int],
    lo: int,
    hi: int,
    dtype: np.dtype,
) -> np.ndarray:
    n = int(np.prod(dims)) if dims else 1
    span = hi - lo
    if dtype.itemsize == 8:
        w = _words(key, counter, 2 * n)[: 2 * n].astype(np.uint64).reshape(-1, 2)
        bits = w[:, 0] | (w[:, 1] << np.uint64(32))
        values = [lo + int(b) % span for b in bits]
        return np.array(values, dtype=np.int64).reshape(dims)
    w = _words(key, counter, n)[:n].astype(np.uint64)
    return (lo + (w % np.uint64(span)).astype(np.int64)).astype(dtype).reshape(dims)


def _stateless(kind: str, v2: bool) -> Any:
    def prepare(node: NodeSpec) -> Any:
        dtype = node.attrs.dtype("dtype", 1)

        def run(ctx: Any, shape: np.ndarray, *seed: np.ndarray) -> np.ndarray:
            if not v2 and np.asarray(seed[0]).shape != (2,):
                fail(f"seed must have shape [2], not {shape_str(np.shape(seed[0]))}")
            dims = _shape(shape)
            key, counter = _key_counter_from_tensors(*seed[:3]) if v2 else _seed_key_counter(seed[0])
            draw = {"uniform": philox_uniform, "normal": philox_normal}.get(kind, philox_truncated_normal)
            return draw(key, counter, dims, dtype)

        return run

    return prepare


for _op, _kind, _v2 in [
    ("StatelessRandomUniform", "uniform", False),
    ("StatelessRandomNormal", "normal", False),
    ("StatelessTruncatedNormal", "truncated", False),
    ("StatelessRandomUniformV2", "uniform", True),
    ("StatelessRandomNormalV2", "normal", True),
    ("StatelessTruncatedNormalV2", "truncated", True),
]:
    kernel_factory(_op, family="random", dtypes=FLOATS)(_stateless(_kind, _v2))


def _stateless_int(v2: bool) -> Any:
    def prepare(node: NodeSpec) -> Any:
        def run(ctx: Any, shape: np.ndarray, *rest: np.ndarray) -> np.ndarray:
            if v2:
                key_t, counter_t, alg, minval, maxval = rest
                key, counter = _key_counter_from_tensors(key_t, counter_t, alg)
            else:
                seed, minval, maxval = rest
                key, counter = _seed_key_counter(seed)
            lo, hi = scalar_int(minval, "minval"), scalar_int(maxval, "maxval")
            dims = _shape(shape)
            if int(np.prod(dims)) == 0:
                return np.zeros(dims, dtype=minval.dtype)
            _check_int_range(lo, hi)
            return philox_uniform_int(key, counter, dims, lo, hi, minval.dtype)

        return run

    return prepare


kernel_factory("StatelessRandomUniformInt", family="random", dtypes=("int32", "int64"))(_stateless_int(False))
kernel_factory("StatelessRandomUniformIntV2", family="random", dtypes=("int32", "int64"))(
    _stateless_int(True)
)


@kernel_factory("StatelessRandomGetKeyCounter", family="random", dtypes=("int32", "int64"))
def _get_key_counter(node: NodeSpec) -> Any:
    def run(ctx: Any, seed: np.ndarray) -> list[np.ndarray]:
        (k0, k1), (c0, c1, c2, c3) = _seed_key_counter(seed)
        key = np.array([k0 | (k1 << 32)], dtype=np.uint64)
        counter = np.array([c0 | (c1 << 32), c2 | (c3 << 32)], dtype=np.uint64)
        return [key, counter]

    return run


@kernel_factory("StatelessRandomGetAlg", family="random", dtypes=())
def _get_alg(node: NodeSpec) -> Any:
    return lambda ctx: np.array(1, dtype=np.int32)  # Philox, as TensorFlow reports on CPU


@kernel_factory("Timestamp", family="random", stateful=True, dtypes=())
def _timestamp(node: NodeSpec) -> Any:
    import time

    return lambda ctx: np.array(time.time(), dtype=np.float64)


def _sample_kernel(op: str, stateless: bool, sampler: Any) -> None:
    @kernel_factory(op, family="random", stateful=not stateless, dtypes=FLOATS + ("int32", "int64"))
    def prepare(node: NodeSpec) -> Any:
        out_attr = "dtype" if "dtype" in node.attrs else ("T" if "T" in node.attrs else None)
        out = node.attrs.dtype(out_attr) if out_attr else np.dtype(np.float32)
        rng = None if stateless else _node_rng(node)

        def run(ctx: Any, shape: np.ndarray, *params: np.ndarray) -> np.ndarray:
            if stateless:
                generator = _stateless_rng(params[0])
                params = params[1:]
            else:
                generator = rng
            dims = _shape(shape)
            return as_dtype(sampler(generator, dims, *params), out)

        return run


def _gamma(rng: np.random.Generator, dims: list[int], alpha: np.ndarray, *beta: np.ndarray) -> np.ndarray:
    a = np.asarray(alpha, dtype=np.float64)
    scale = 1.0 / np.asarray(beta[0], dtype=np.float64) if beta else 1.0
    return (
        rng.gamma(a, scale, size=tuple(dims) + a.shape) if not beta else rng.gamma(a, scale, size=tuple(dims))
    )


def _poisson(rng: np.random.Generator, dims: list[int], rate: np.ndarray) -> np.ndarray:
    lam = np.asarray(rate, dtype=np.float64)
    return rng.poisson(lam, size=tuple(dims) + lam.shape)


_sample_kernel("RandomGamma", False, _gamma)
_sample_kernel("RandomPoissonV2", False, _poisson)


def _gamma_broadcast(rng: np.random.Generator, dims: list[int], alpha: np.ndarray) -> np.ndarray:
    return rng.gamma(np.broadcast_to(np.asarray(alpha, dtype=np.float64), dims))


def _poisson_broadcast(rng: np.random.Generator, dims: list[int], rate: np.ndarray) -> np.ndarray:
    return rng.poisson(np.broadcast_to(np.asarray(rate, dtype=np.float64), dims))


# the stateless variants broadcast their parameters to `shape` instead of appending their shape
_sample_kernel("StatelessRandomGammaV2", True, _gamma_broadcast)
_sample_kernel("StatelessRandomPoisson", True, _poisson_broadcast)


# --------------------------------------------------------------------------- Philox samplers


def philox_multinomial(
    key: tuple[int, int], counter: tuple[int, int, int, int], logits: np.ndarray, n: int, out: np.dtype
) -> np.ndarray:
    """TensorFlow's CPU multinomial on one Philox stream: per row, an unnormalised float64 CDF of
    exp(logit - max finite logit) over the finite logits; each sample is one uniform double (two
    consecutive words, rows and samples in order) times the total, placed by upper bound.

    TensorFlow shards rows across threads when batch * cost is large (each shard skipping
    start_row * ceil(n / 4) blocks); this reproduces the single-shard stream, which is what
    small batches get."""
    if logits.ndim != 2:
        fail(f"logits should be a matrix, got shape {shape_str(logits.shape)}")
    if n < 0:
        fail(f"num_samples should be nonnegative, got {n}")
    batch, classes = logits.shape
    if classes == 0 and n > 0:
        fail("num_classes should be positive")
    result = np.zeros((batch, n), dtype=out)
    if batch * n == 0:
        return result
    words = _words(key, counter, 2 * batch * n)[: 2 * batch * n]
    uniforms = _uniform_bits(words, np.dtype(np.float64), batch * n).reshape(batch, n)
    for b in range(batch):
        row = np.asarray(logits[b])
        finite = np.isfinite(row.astype(np.float64))
        top = float(row[finite].max()) if finite.any() else float(np.finfo(row.dtype).min)
        weights = np.exp(row.astype(np.float64) - top)
        cdf = np.cumsum(np.where(finite, weights, 0.0))
        total = float(cdf[-1]) if classes else 0.0
        result[b] = np.searchsorted(cdf, uniforms[b] * total, side="right")
    return result


class _PhiloxStream:
    """Uniform doubles from consecutive Philox blocks starting `skip` blocks into a stream; each
    block gives two, used last-first (TensorFlow's UniformDistribution<double> consumed from the
    back of its result)."""

    def __init__(self, key: tuple[int, int], counter: tuple[int, int, int, int], skip: int) -> None:
        self.key, self.counter, self.next_block = key, counter, skip
        self.queue: list[float] = []
        self.used = 0

    def uniform(self) -> float:
        if self.used == len(self.queue):
            chunk = 8
            offsets = np.arange(self.next_block, self.next_block + chunk, dtype=np.uint64)
            self.next_block += chunk
            blocks = _philox_blocks(self.key, self.counter, chunk, offsets).reshape(-1)
            pairs = _uniform_bits(blocks, np.dtype(np.float64), 2 * chunk).reshape(chunk, 2)
            self.queue, self.used = pairs[:, ::-1].reshape(-1).tolist(), 0
        self.used += 1
        return self.queue[self.used - 1]


_STIRLING_TAIL = (
    0.0810614667953272,
    0.0413406959554092,
    0.0276779256849983,
    0.02079067210376509,
    0.0166446911898211,
    0.0138761288230707,
    0.0118967099458917,
    0.0104112652619720,
    0.00925546218271273,
    0.00833056343336287,
)


def _stirling_tail(k: float) -> float:
    """log(k!) minus its Stirling approximation: tabulated below 10, series above."""
    if k <= 9:
        return _STIRLING_TAIL[int(k)]
    kp1sq = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)


def _binomial_inversion(count: float, prob: float, stream: _PhiloxStream) -> float:
    """Number of geometric(prob) waiting times whose sum stays within count."""
    total, successes = 0.0, 0
    log_q = math.log1p(-prob)
    while True:
        total += math.ceil(math.log(stream.uniform()) / log_q)
        if total > count:
            return float(successes)
        successes += 1


def _btrs(count: float, prob: float, stream: _PhiloxStream) -> float:
    """Hormann's transformed rejection with squeeze (BTRS), in TensorFlow's variant."""
    stddev = math.sqrt(count * prob * (1 - prob))
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * prob
    c = count * prob + 0.5
    v_r = 0.92 - 4.2 / b
    r = prob / (1 - prob)
    alpha = (2.83 + 5.1 / b) * stddev
    m = math.floor((count + 1) * prob)
    while True:
        u = stream.uniform() - 0.5
        v = stream.uniform()
        us = 0.5 - abs(u)
        k = math.floor((2 * a / us + b) * u + c)
        if us >= 0.07 and v <= v_r:
            return float(k)
        if k < 0 or k > count:
            continue
        v = math.log(v * alpha / (a / (us * us) + b))
        bound = (
            (m + 0.5) * math.log((m + 1) / (r * (count - m + 1)))
            + (count + 1) * math.log((count - m + 1) / (count - k + 1))
            + (k + 0.5) * math.log(r * (count - k + 1) / (k + 1))
            + _stirling_tail(m)
            + _stirling_tail(count - m)
            - _stirling_tail(k)
            - _stirling_tail(count - k)
        )
        if v <= bound:
            return float(k)


def _binomial_one(
    key: tuple[int, int], counter: tuple[int, int, int, int], index: int, count: Any, prob: Any
) -> float:
    """One sample for flat output-stream index `index` (batch-major): BTRS on a stream skipped
    256 * index blocks when count * min(p, 1 - p) >= 10 (computed in the parameter dtype),
    otherwise inversion on a stream skipped 42 * index blocks."""
    dcount = float(count)
    if dcount <= 0.0 or prob <= 0:
        return 0.0
    if prob >= 1:
        return dcount
    if not prob <= 0.5 and not prob > 0.5:
        return math.nan
    flip = prob > 0.5
    p = (prob.dtype.type(1) - prob) if flip else prob
    if count * p >= 10:
        draw = _btrs(dcount, float(p), _PhiloxStream(key, counter, 256 * index))
    else:
        draw = _binomial_inversion(dcount, float(p), _PhiloxStream(key, counter, 42 * index))
    return dcount - draw if flip else draw


@kernel_factory("StatelessRandomBinomial", family="random", dtypes=FLOATS + ("int32", "int64"))
def _stateless_random_binomial(node: NodeSpec) -> Any:
    """TensorFlow's CPU binomial sampler on the seed's Philox stream, bit for bit."""
    out = node.attrs.dtype("dtype", 9)

    def run(
        ctx: Any, shape: np.ndarray, seed: np.ndarray, counts: np.ndarray, probs: np.ndarray
    ) -> np.ndarray:
        if np.asarray(seed).shape != (2,):
            fail(f"seed must have shape [2], not {shape_str(np.shape(seed))}")
        dims = _shape(shape)
        counts, probs = np.asarray(counts), np.asarray(probs)
        try:
            batch_shape = list(np.broadcast_shapes(counts.shape, probs.shape))
        except ValueError:
            fail(f"counts {shape_str(counts.shape)} and probs {shape_str(probs.shape)} do not broadcast")
        if len(dims) < len(batch_shape) or (batch_shape and dims[-len(batch_shape) :] != batch_shape):
            fail(f"shape {dims} must end with the broadcast shape of counts and probs {batch_shape}")
        result = np.zeros(dims, dtype=out)
        total = int(np.prod(dims)) if dims else 1
        if total == 0:
            return result
        batches = int(np.prod(batch_shape)) if batch_shape else 1
        per_batch = total // batches
        count_b = np.broadcast_to(counts, batch_shape).reshape(-1)
        prob_b = np.broadcast_to(probs, batch_shape).reshape(-1)
        key, counter = _seed_key_counter(seed)
        flat = np.empty(total, dtype=np.float64)
        for batch in range(batches):
            for sample in range(per_batch):
                value = _binomial_one(key, counter, batch * per_batch + sample, count_b[batch], prob_b[batch])
                flat[sample * batches + batch] = value
        return as_dtype(flat, out).reshape(dims)

    return run
