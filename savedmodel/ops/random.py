"""Random ops.

The stateless ops reproduce TensorFlow's CPU Philox-4x32-10 streams bit for bit: uniform, normal,
truncated-normal, uniform-int and full-range-int (V1 and V2), gamma (V2, V3), Poisson, binomial,
parameterized truncated normal, shuffle, RandomIndexShuffle (its Simon-cipher bijection) and the
key/counter/alg helpers. Two of them match only while TensorFlow runs them as one shard:
StatelessMultinomial (small batch * samples * classes) and StatelessParameterizedTruncatedNormal
(small outputs, or intra-op parallelism 1); larger ones TensorFlow splits across its thread pool,
each shard restarting the stream, so its own values depend on the machine's thread count there.
Gamma and Poisson give every output its own stream and match for any size. The stateful ops
(RandomUniform...) draw from NumPy instead: values differ from TensorFlow's for the same seed, while
shapes, dtypes, ranges and distributions match. A stateful node whose seed attrs are set is
reproducible from run to run of a loaded model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from savedmodel.ops._common import FLOATS, as_dtype, fail, int_list, scalar_int, shape_str
from savedmodel.ops.registry import NodeSpec, kernel_factory
from savedmodel.policy import check_tensor_bytes, limits_of

FAMILY_NOTES = (
    "The stateless ops (uniform, normal, truncated normal, ints, gamma, Poisson, binomial, "
    "multinomial, parameterized truncated normal, shuffle, RandomIndexShuffle, key/counter/alg) "
    "reproduce TensorFlow's CPU Philox-4x32-10 streams bit for bit; StatelessMultinomial and "
    "StatelessParameterizedTruncatedNormal only while TensorFlow runs them as one shard (small "
    "outputs), since larger ones are split across its threads, each shard restarting the stream. "
    "The stateful ops draw from NumPy: values differ from TensorFlow's for the same seed; shapes, "
    "dtypes, ranges and distributions match. Seeded stateful nodes are reproducible from run to run."
)


def _shape(value: np.ndarray, ctx: Any) -> list[int]:
    dims = int_list(value, "shape")
    if any(d < 0 for d in dims):
        fail(f"shape must be non-negative: {dims}")
    check_tensor_bytes(dims, 8, "random op shape", limits_of(ctx))
    return dims


def _node_rng(node: NodeSpec) -> np.random.Generator:
    seed, seed2 = int(node.attrs.get("seed", 0)), int(node.attrs.get("seed2", 0))
    if seed == 0 and seed2 == 0:
        return np.random.default_rng()
    return np.random.default_rng([seed & 0xFFFFFFFF, seed2 & 0xFFFFFFFF])


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
            return lambda ctx, shape: sample(rng, _shape(shape, ctx), dtype)

        return prepare

    kernel_factory(_op, family="random", side_effects=True, dtypes=FLOATS)(_make(_kind))


def _check_int_range(lo: int, hi: int) -> None:
    if lo >= hi:
        fail(f"Need minval < maxval: {lo} >= {hi}")


@kernel_factory("RandomUniformInt", family="random", side_effects=True, dtypes=("int32", "int64"))
def _random_uniform_int(node: NodeSpec) -> Any:
    rng = _node_rng(node)

    def run(ctx: Any, shape: np.ndarray, minval: np.ndarray, maxval: np.ndarray) -> np.ndarray:
        lo, hi = scalar_int(minval, "minval"), scalar_int(maxval, "maxval")
        dims = _shape(shape, ctx)
        if int(np.prod(dims)) > 0:
            _check_int_range(lo, hi)
            return rng.integers(lo, hi, size=dims).astype(minval.dtype)
        return np.zeros(dims, dtype=minval.dtype)

    return run


@kernel_factory("RandomShuffle", family="random", side_effects=True, dtypes=("all",))
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


@kernel_factory("Multinomial", family="random", side_effects=True, dtypes=FLOATS)
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
            dims = _shape(shape, ctx)
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
            dims = _shape(shape, ctx)
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


@kernel_factory("Timestamp", family="random", side_effects=True, dtypes=())
def _timestamp(node: NodeSpec) -> Any:
    import time

    return lambda ctx: np.array(time.time(), dtype=np.float64)


def _sample_kernel(op: str, sampler: Any) -> None:
    @kernel_factory(op, family="random", side_effects=True, dtypes=FLOATS + ("int32", "int64"))
    def prepare(node: NodeSpec) -> Any:
        out_attr = "dtype" if "dtype" in node.attrs else ("T" if "T" in node.attrs else None)
        out = node.attrs.dtype(out_attr) if out_attr else np.dtype(np.float32)
        rng = _node_rng(node)

        def run(ctx: Any, shape: np.ndarray, *params: np.ndarray) -> np.ndarray:
            return as_dtype(sampler(rng, _shape(shape, ctx), *params), out)

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


_sample_kernel("RandomGamma", _gamma)
_sample_kernel("RandomPoissonV2", _poisson)


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
        dims = _shape(shape, ctx)
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


# --------------------------------------------------------------------------- gamma, Poisson

Key = tuple[int, int]
Counter = tuple[int, int, int, int]


class _Lanes:
    """Independent Philox streams, one per output ("lane"), lane i starting `starts[i]` blocks into
    the stream. Uniform and normal doubles come two per block and are handed out last-first, each
    kind from its own one-block buffer (TensorFlow's per-output sample buffers); both buffers draw
    their blocks from the lane's one stream, in the order they run dry."""

    def __init__(self, key: Key, counter: Counter, starts: np.ndarray) -> None:
        self.key, self.counter = key, counter
        self.pos = starts.astype(np.uint64)
        n = self.pos.size
        self.buffers = {kind: (np.zeros((n, 2)), np.zeros(n, dtype=np.int8)) for kind in ("u", "n")}

    def _blocks(self, lanes: np.ndarray) -> np.ndarray:
        words = _philox_blocks(self.key, self.counter, lanes.size, self.pos[lanes])
        self.pos[lanes] += np.uint64(1)
        return words

    def _next(self, kind: str, lanes: np.ndarray) -> np.ndarray:
        values, left = self.buffers[kind]
        empty = lanes[left[lanes] == 0]
        if empty.size:
            words = self._blocks(empty)
            if kind == "u":
                values[empty] = _uniform_bits(
                    words.reshape(-1), np.dtype(np.float64), 2 * empty.size
                ).reshape(-1, 2)
            else:
                values[empty] = _box_muller(words, True)
            left[empty] = 2
        left[lanes] -= 1
        return values[lanes, left[lanes]]

    def uniform(self, lanes: np.ndarray) -> np.ndarray:
        return self._next("u", lanes)

    def normal(self, lanes: np.ndarray) -> np.ndarray:
        return self._next("n", lanes)


_RESERVED_BLOCKS_PER_OUTPUT = 256  # each gamma/Poisson output's stream starts this many blocks apart


def _per_param_layout(num_params: int, per_param: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outputs in TensorFlow's work order (parameter-major): their parameter index, their stream's
    first block, and their position in the (sample-major) output."""
    order = np.arange(num_params * per_param, dtype=np.int64)
    param = order // per_param
    where = (order % per_param) * num_params + param
    return param, order.astype(np.uint64) * np.uint64(_RESERVED_BLOCKS_PER_OUTPUT), where


def _to_float_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """double -> dtype as TensorFlow's casts do: half types round through float32."""
    if dtype.itemsize == 2:
        return values.astype(np.float32).astype(dtype)
    return values.astype(dtype)


def philox_gamma(
    key: Key, counter: Counter, alpha: np.ndarray, dims: list[int], dtype: np.dtype
) -> np.ndarray:
    """TensorFlow's CPU StatelessRandomGamma: per output, on its own stream, Marsaglia-Tsang
    transformed rejection in double (alpha == 1: -log1p(-u)); alpha < 1 boosted by u^(1/alpha)."""
    total = int(np.prod(dims)) if dims else 1
    alphas = np.asarray(alpha).astype(np.float64).reshape(-1)
    param, starts, where = _per_param_layout(alphas.size, total // alphas.size)
    a = alphas[param]
    lanes = _Lanes(key, counter, starts)
    result = np.empty(total, dtype=np.float64)
    with np.errstate(all="ignore"):
        exp = np.flatnonzero(a == 1.0)
        result[exp] = -np.log1p(-lanes.uniform(exp))
        pending = np.flatnonzero(a != 1.0)
        small = a < 1.0
        d = a + np.where(small, 2.0 / 3, -1.0 / 3)
        c = 1.0 / 3 / np.sqrt(d)
        while pending.size:
            x = lanes.normal(pending)
            v = 1 + c[pending] * x
            positive = ~(v <= 0)  # as TensorFlow: NaN goes on (and gives NaN)
            lane, x, v = pending[positive], x[positive], v[positive]
            v = v * v * v
            u = lanes.uniform(lane)
            accept = (u < 1 - 0.0331 * (x * x) * (x * x)) | (
                np.log(u) < 0.5 * x * x + d[lane] * (1 - v + np.log(v))
            )
            done, value = lane[accept], d[lane[accept]] * v[accept]
            boost = small[done]
            if boost.any():
                value[boost] *= np.power(lanes.uniform(done[boost]), 1 / a[done[boost]])
            result[done] = value
            pending = pending[~np.isin(pending, done)]
    out = np.empty(total, dtype=np.float64)
    out[where] = result
    return _to_float_dtype(out, dtype).reshape(dims)


def _highest(dtype: np.dtype) -> float:
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    return float(info.max)


def _poisson_knuth(lanes: _Lanes, todo: np.ndarray, rate: np.ndarray, cap: float, out: np.ndarray) -> None:
    """rate < 10: count uniforms until their running product drops to exp(-rate)."""
    limit = np.exp(-rate[todo])
    prod = np.ones(todo.size)
    count = np.zeros(todo.size)
    active = np.arange(todo.size)
    while active.size:
        prod[active] *= lanes.uniform(todo[active])
        stop = (prod[active] <= limit[active]) & (count[active] <= cap)
        out[todo[active[stop]]] = count[active[stop]]
        active = active[~stop]
        count[active] += 1


def _poisson_hormann(lanes: _Lanes, todo: np.ndarray, rate: np.ndarray, cap: float, out: np.ndarray) -> None:
    """rate >= 10: Hormann's transformed rejection (PTRS) in double."""
    lam = rate[todo]
    log_rate = np.log(lam)
    b = 0.931 + 2.53 * np.sqrt(lam)
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2)
    active = np.arange(todo.size)
    while active.size:
        lane = todo[active]
        u = lanes.uniform(lane) - 0.5
        v = lanes.uniform(lane)
        us = 0.5 - np.abs(u)
        k = np.floor((2 * a[active] / us + b[active]) * u + lam[active] + 0.43)
        ok = k <= cap
        quick = ok & (us >= 0.07) & (v <= v_r[active])
        slow = ok & ~quick & ~((k < 0) | ((us < 0.013) & (v > us)))
        accept = quick.copy()
        if slow.any():
            i = np.flatnonzero(slow)
            s = np.log(v[i] * inv_alpha[active[i]] / (a[active[i]] / (us[i] * us[i]) + b[active[i]]))
            lgam = np.array([math.lgamma(float(kk) + 1) for kk in k[i]])
            t = -lam[active[i]] + k[i] * log_rate[active[i]] - lgam
            accept[i] = s <= t
        out[lane[accept]] = k[accept]
        active = active[~accept]


def philox_poisson(
    key: Key, counter: Counter, lam: np.ndarray, dims: list[int], dtype: np.dtype
) -> np.ndarray:
    """TensorFlow's CPU StatelessRandomPoisson: per output, on its own stream, in double:
    Knuth's product of uniforms below rate 10, Hormann's PTRS from 10 up."""
    total = int(np.prod(dims)) if dims else 1
    rates = np.asarray(lam).astype(np.float64).reshape(-1)
    if not np.isfinite(rates).all():
        fail("lam must be finite: TensorFlow's Poisson sampler never terminates on NaN or infinite rates")
    param, starts, where = _per_param_layout(rates.size, total // rates.size)
    rate = rates[param]
    lanes = _Lanes(key, counter, starts)
    cap = _highest(dtype)
    result = np.empty(total, dtype=np.float64)
    with np.errstate(all="ignore"):
        _poisson_knuth(lanes, np.flatnonzero(rate < 10), rate, cap, result)
        _poisson_hormann(lanes, np.flatnonzero(rate >= 10), rate, cap, result)
    out = np.empty(total, dtype=np.float64)
    out[where] = result
    if dtype.kind == "f":
        return _to_float_dtype(out, dtype).reshape(dims)
    return out.astype(dtype).reshape(dims)


def _batch_shape(dims: list[int], param_shape: tuple[int, ...]) -> None:
    if len(dims) < len(param_shape) or (param_shape and tuple(dims[-len(param_shape) :]) != param_shape):
        fail(f"Shape passed in must end with broadcasted shape: {dims} vs {shape_str(param_shape)}")


def _seeded(seed: np.ndarray) -> tuple[Key, Counter]:
    if np.asarray(seed).shape != (2,):
        fail(f"seed must have shape [2], not {shape_str(np.shape(seed))}")
    return _seed_key_counter(seed)


def _param_sampler(draw: Any, what: str, out_attr: str, v3: bool) -> Any:
    """Gamma/Poisson kernels: shape, then a seed (or key, counter, alg), then the parameter tensor,
    whose shape the output shape must end with."""

    def prepare(node: NodeSpec) -> Any:
        out = node.attrs.dtype(out_attr)

        def run(ctx: Any, shape: np.ndarray, *rest: np.ndarray) -> np.ndarray:
            param = np.asarray(rest[-1])
            key, counter = _key_counter_from_tensors(*rest[:3]) if v3 else _seeded(rest[0])
            dims = _shape(shape, ctx)
            _batch_shape(dims, param.shape)
            if int(np.prod(dims)) == 0:
                return np.zeros(dims, dtype=out)
            if param.size == 0:
                fail(f"Input {what} should have non-zero element count, got: 0")
            return draw(key, counter, param, dims, out)

        return run

    return prepare


_GAMMA_DOC = "Philox-exact: one stream per output, Marsaglia-Tsang in double, as TensorFlow's CPU kernel"
_HALF_FLOATS = ("float16", "float32", "float64")
kernel_factory("StatelessRandomGammaV2", family="random", dtypes=_HALF_FLOATS, doc=_GAMMA_DOC)(
    _param_sampler(philox_gamma, "alpha", "dtype", False)
)
kernel_factory("StatelessRandomGammaV3", family="random", dtypes=_HALF_FLOATS, doc=_GAMMA_DOC)(
    _param_sampler(philox_gamma, "alpha", "dtype", True)
)
kernel_factory(
    "StatelessRandomPoisson",
    family="random",
    dtypes=_HALF_FLOATS + ("int32", "int64"),
    doc="Philox-exact: one stream per output, Knuth below rate 10, Hormann's PTRS above; "
    "non-finite rates are refused (TensorFlow's sampler never returns)",
)(_param_sampler(philox_poisson, "lam", "dtype", False))


# --------------------------------------------------------------------------- parameterized truncated normal

_MAX_ITERATIONS = 1000


class _Stream:
    """One sequential Philox stream, read a chunk of blocks at a time."""

    def __init__(self, key: Key, counter: Counter) -> None:
        self.key, self.counter, self.pos = key, counter, 0

    def peek(self, blocks: int) -> np.ndarray:
        offsets = np.arange(self.pos, self.pos + blocks, dtype=np.uint64)
        return _philox_blocks(self.key, self.counter, blocks, offsets)


def _block_uniforms(words: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """UniformDistribution<T> per block: [blocks, 4] (2 for double), in dtype."""
    per = 2 if dtype == np.float64 else 4
    return _uniform_bits(words.reshape(-1), dtype, words.shape[0] * per).astype(dtype).reshape(-1, per)


def _block_normals(words: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """NormalDistribution<T> per block: Box-Muller in float (double for float64), cast to dtype."""
    return _box_muller(words, dtype == np.float64).astype(dtype)


def _accepted(
    stream: _Stream, count: int, blocks_per_round: int, draw: Any, limit: int, what: str
) -> np.ndarray:
    """The first `count` accepted candidates of a rejection sampler reading rounds of
    `blocks_per_round` blocks; draw(words [rounds, blocks_per_round * 4]) gives the round's
    candidates and acceptance, [rounds, k] each. The stream moves past the round of the last
    sample taken (the rest of that round is dropped). `limit` consecutive rejections fail."""
    taken: list[np.ndarray] = []
    run, need = 0, count
    rounds = max(4, 2 * count)
    while need:
        words = stream.peek(rounds * blocks_per_round).reshape(rounds, -1)
        values, accept = draw(words)
        per_round = values.shape[1]
        flat_ok = accept.reshape(-1)
        hits = np.flatnonzero(flat_ok)[:need]
        gaps = np.diff(np.concatenate([[-1 - run], hits])) - 1
        last = hits[-1] if hits.size == need else flat_ok.size - 1
        trailing = flat_ok.size - 1 - hits[-1] if hits.size else run + flat_ok.size
        if (gaps >= limit).any() or (hits.size < need and trailing >= limit):
            fail(f"TruncatedNormal {what} rejection sampler failed to accept a sample.")
        taken.append(values.reshape(-1)[hits])
        run = trailing
        need -= hits.size
        stream.pos += (last // per_round + 1) * blocks_per_round
    return np.concatenate(taken) if taken else np.zeros(0)


def _truncated_batch(stream: _Stream, params: tuple[Any, ...], count: int, t: type) -> np.ndarray:
    """`count` samples of one parameter set, in T arithmetic, on the shared stream."""
    mean, stddev, lo, hi = params
    if (np.isinf(lo) and lo < 0) or hi < mean:
        lo, hi, stddev = hi, lo, -stddev
    norm_min, norm_max = (lo - mean) / stddev, (hi - mean) / stddev
    sqrt_factor = np.sqrt(norm_min * norm_min + t(4))
    cutoff = t(2) * np.exp(t(0.5) + (norm_min * (norm_min - sqrt_factor)) / t(4)) / (norm_min + sqrt_factor)
    inside = t(1.3)
    dtype = np.dtype(t)
    if (norm_min < -inside and norm_max >= t(0)) or (norm_max > inside and norm_min <= t(0)):

        def normals(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            z = _block_normals(words, dtype)
            return z, (z >= norm_min) & (z <= norm_max)

        z = _accepted(stream, count, 1, normals, _MAX_ITERATIONS + 1, "randn")
    elif norm_max - norm_min < cutoff:
        diff = norm_max - norm_min
        plus = t(0) if norm_min < t(0) else norm_min * norm_min

        def uniforms(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            z = _block_uniforms(words[:, :4].copy(), dtype) * diff + norm_min
            g = (plus - z * z) / t(2)
            return z, _block_uniforms(words[:, 4:].copy(), dtype) <= np.exp(g)

        z = _accepted(stream, count, 2, uniforms, _MAX_ITERATIONS, "uniform")
    else:
        alpha = (norm_min + np.sqrt(norm_min * norm_min + t(4))) / t(2)

        def exponentials(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            r = _block_uniforms(words, dtype)
            z = -np.log(r[:, 0::2]) / alpha + norm_min
            x = alpha - z if norm_min < alpha else np.full_like(z, norm_min - alpha)
            g = np.exp(-x * x / t(2))
            return z, (r[:, 1::2] <= g) & (z < norm_max)

        z = _accepted(stream, count, 1, exponentials, _MAX_ITERATIONS, "exponential distribution")
    return z * stddev + mean


def philox_parameterized_truncated_normal(
    key: Key, counter: Counter, params: list[np.ndarray], dims: list[int], dtype: np.dtype
) -> np.ndarray:
    """TensorFlow's CPU StatelessParameterizedTruncatedNormal as one shard runs it: parameter sets
    (batches) in order on one sequential stream, each choosing normal rejection, uniform rejection
    or exponential rejection (Robert's) from its normalised bounds.

    TensorFlow splits large outputs across its thread pool, each shard starting its own stream at
    an offset of its first output, so there its values depend on the machine's thread count; this
    gives the single-thread values (small outputs, or intra-op parallelism 1)."""
    batch_shape = np.broadcast_shapes(*(p.shape for p in params))
    flat = [np.broadcast_to(p, batch_shape).reshape(-1) for p in params]
    batches = int(np.prod(batch_shape)) if batch_shape else 1
    per_batch = (int(np.prod(dims)) if dims else 1) // batches
    t = dtype.type
    with np.errstate(all="ignore"):
        for _mean, stddev, lo, hi in zip(*flat, strict=True):
            if not (stddev > 0 and lo < hi and (np.isfinite(lo) or np.isfinite(hi))):
                fail("Invalid parameters")
        stream = _Stream(key, counter)
        out = np.empty((per_batch, batches), dtype=dtype)
        for b in range(batches):
            params_b = tuple(t(p[b]) for p in flat)
            out[:, b] = _truncated_batch(stream, params_b, per_batch, t)
    return out.reshape(dims)


@kernel_factory(
    "StatelessParameterizedTruncatedNormal",
    family="random",
    dtypes=_HALF_FLOATS,
    doc="Philox-exact for TensorFlow's single-shard stream: small outputs (or intra-op parallelism 1); "
    "TensorFlow's own values for large outputs depend on its thread count",
)
def _stateless_parameterized_truncated_normal(node: NodeSpec) -> Any:
    out = node.attrs.dtype("dtype", 1)

    def run(ctx: Any, shape: np.ndarray, seed: np.ndarray, *params: np.ndarray) -> np.ndarray:
        key, counter = _seeded(seed)
        arrays = [np.asarray(p) for p in params]
        try:
            batch_shape = np.broadcast_shapes(*(p.shape for p in arrays))
        except ValueError:
            fail(
                "means, stddevs, minvals, maxvals must have compatible batch dimensions: "
                + " vs. ".join(shape_str(p.shape) for p in arrays)
            )
        if np.asarray(shape).ndim != 1:
            fail(f"Input shape should be a vector, got shape: {shape_str(np.shape(shape))}")
        dims = _shape(shape, ctx)
        _batch_shape(dims, tuple(batch_shape))
        if int(np.prod(dims)) == 0:
            return np.zeros(dims, dtype=out)
        return philox_parameterized_truncated_normal(key, counter, arrays, dims, out)

    return run


# --------------------------------------------------------------------------- full-range ints, keys


def philox_full_int(key: Key, counter: Counter, dims: list[int], dtype: np.dtype) -> np.ndarray:
    """Raw stream words: one per 32-bit value, two (low word first) per 64-bit value."""
    n = int(np.prod(dims)) if dims else 1
    if dtype.itemsize == 8:
        w = _words(key, counter, 2 * n)[: 2 * n].astype(np.uint64).reshape(-1, 2)
        return (w[:, 0] | (w[:, 1] << np.uint64(32))).view(dtype).reshape(dims)
    return _words(key, counter, n)[:n].view(dtype).reshape(dims)


def _full_int(v2: bool) -> Any:
    def prepare(node: NodeSpec) -> Any:
        out = node.attrs.dtype("dtype", 23)

        def run(ctx: Any, shape: np.ndarray, *seed: np.ndarray) -> np.ndarray:
            key, counter = _key_counter_from_tensors(*seed) if v2 else _seeded(seed[0])
            return philox_full_int(key, counter, _shape(shape, ctx), out)

        return run

    return prepare


_INTS = ("int32", "int64", "uint32", "uint64")
kernel_factory("StatelessRandomUniformFullInt", family="random", dtypes=_INTS)(_full_int(False))
kernel_factory("StatelessRandomUniformFullIntV2", family="random", dtypes=_INTS)(_full_int(True))


@kernel_factory("StatelessRandomGetKeyCounterAlg", family="random", dtypes=("int32", "int64"))
def _get_key_counter_alg(node: NodeSpec) -> Any:
    key_counter = _get_key_counter(node)
    return lambda ctx, seed: [*key_counter(ctx, seed), np.array(1, dtype=np.int32)]


# --------------------------------------------------------------------------- shuffles


def philox_shuffle(key: Key, counter: Counter, size: int) -> np.ndarray:
    """TensorFlow's Fisher-Yates: for i < size - 1 swap i with i + (word_i mod (size - i)), one
    stream word per step, in order."""
    perm = np.arange(size, dtype=np.int64)
    if size <= 1:
        return perm
    steps = np.arange(size - 1, dtype=np.uint64)
    words = _words(key, counter, size - 1)[: size - 1].astype(np.uint64)
    targets = (steps + words % (np.uint64(size) - steps)).tolist()
    order = perm.tolist()
    for i, j in enumerate(targets):
        order[i], order[j] = order[j], order[i]
    return np.array(order, dtype=np.int64)


@kernel_factory(
    "StatelessShuffle",
    family="random",
    dtypes=("all",),
    doc="Philox-exact Fisher-Yates over the first dimension",
)
def _stateless_shuffle(node: NodeSpec) -> Any:
    def run(ctx: Any, value: np.ndarray, key: np.ndarray, counter: np.ndarray, alg: np.ndarray) -> np.ndarray:
        k, c = _key_counter_from_tensors(key, counter, alg)
        value = np.asarray(value)
        if value.ndim == 0 or value.size <= 1 or value.shape[0] <= 1:
            return value
        return value[philox_shuffle(k, c, value.shape[0])]

    return run


class _Simon:
    """The cipher random_index_shuffle uses: Simon-like Feistel rounds on words of `width` bits
    (per element), round keys from a [n, 3] uint32 seed by Simon's key schedule."""

    def __init__(self, seeds: np.ndarray, width: np.ndarray, rounds: int) -> None:
        self.width, self.mask = width, (np.uint64(1) << width) - np.uint64(1)
        keys = [seeds[:, k] & self.mask for k in range(3)]
        z = np.uint64(0x7369F885192C0EF5) & self.mask
        c = np.uint64(0xFFFFFFFC) & self.mask
        for i in range(3, rounds):
            prev = keys[i - 1]
            keys.append(c ^ (z & np.uint64(1)) ^ keys[i - 3] ^ self._rot(prev, -3) ^ self._rot(prev, -4))
            z = z >> np.uint64(1)
        self.keys = keys

    def _rot(self, x: np.ndarray, r: int) -> np.ndarray:
        """Rotate left by r bits (right for negative r) within the word width."""
        k = np.uint64(abs(r))
        if r > 0:
            return ((x << k) | (x >> (self.width - k))) & self.mask
        return ((x >> k) | (x << (self.width - k))) & self.mask

    def _f(self, x: np.ndarray) -> np.ndarray:
        return (self._rot(x, 1) & self._rot(x, 8)) ^ self._rot(x, 2)

    def encrypt(self, value: np.ndarray) -> np.ndarray:
        left, right = (value >> self.width) & self.mask, value & self.mask
        for i in range(0, len(self.keys) - 1, 2):
            left = left ^ self._f(right) ^ self.keys[i]
            right = right ^ self._f(left) ^ self.keys[i + 1]
        return (left << self.width) | right


_INDEX_SHUFFLE_MAX_WALK = 1 << 20
_MIN_BLOCK_BITS = 16


def _walk_vectorized(cipher: _Simon, index: np.ndarray, max_index: np.ndarray) -> np.ndarray:
    """Cycle-walk every element at once: blocks wider than the minimum are at most 4 times their
    range, so walks are short."""
    value = index.copy()
    pending = np.ones(value.size, dtype=bool)
    for _ in range(_INDEX_SHUFFLE_MAX_WALK):
        if not pending.any():
            break
        value = np.where(pending, cipher.encrypt(value), value)
        pending &= value > max_index
    if pending.any():  # only an index above max_index can walk a cycle with no value in range
        fail("RandomIndexShuffle: index must be within [0, max_index]")
    return value


def _walk_table(seed: np.ndarray, index: np.ndarray, max_index: np.ndarray, rounds: int) -> np.ndarray:
    """Small ranges on the minimum 16-bit block: encrypt all 2^16 values once, then follow the
    permutation (walks average 2^16 / range steps, and all walks of a range cover each value once)."""
    block = np.arange(1 << _MIN_BLOCK_BITS, dtype=np.uint64)
    width = np.full(block.size, _MIN_BLOCK_BITS // 2, dtype=np.uint64)
    table = _Simon(np.broadcast_to(seed, (block.size, 3)), width, rounds).encrypt(block).tolist()
    out = []
    for start, limit in zip(index.tolist(), max_index.tolist(), strict=True):
        value = table[start & 0xFFFF]
        for _ in range(_INDEX_SHUFFLE_MAX_WALK):
            if value <= limit:
                break
            value = table[value]
        else:
            fail("RandomIndexShuffle: index must be within [0, max_index]")
        out.append(value)
    return np.array(out, dtype=np.uint64)


def index_shuffle(index: np.ndarray, seeds: np.ndarray, max_index: np.ndarray, rounds: int) -> np.ndarray:
    """TensorFlow's random_index_shuffle: a Simon-like Feistel cipher on the smallest even block of
    at least 16 bits (ceil(log2(max_index)) bits), cycle-walked until the value is <= max_index
    (max_index 0 gives 0). All arguments are uint64 arrays of one length (seeds: [n, 3])."""
    bits = np.array([max(math.ceil(math.log2(float(m))), 0) if m else 0 for m in max_index.tolist()])
    bits = np.maximum(bits + bits % 2, _MIN_BLOCK_BITS)
    out = np.zeros(index.size, dtype=np.uint64)
    wide = np.flatnonzero((bits > _MIN_BLOCK_BITS) & (max_index > 0))
    if wide.size:
        cipher = _Simon(seeds[wide], (bits[wide] // 2).astype(np.uint64), rounds)
        out[wide] = _walk_vectorized(cipher, index[wide], max_index[wide])
    narrow = np.flatnonzero((bits == _MIN_BLOCK_BITS) & (max_index > 0))
    if narrow.size:
        rows, group = np.unique(seeds[narrow], axis=0, return_inverse=True)
        for g, seed in enumerate(rows):
            members = narrow[group.reshape(-1) == g]
            out[members] = _walk_table(seed, index[members], max_index[members], rounds)
    return out


def _u64(x: np.ndarray) -> np.ndarray:
    """Integers as uint64 bit patterns (static_cast<uint64_t>)."""
    return x.astype(np.int64).view(np.uint64) if x.dtype.kind == "i" else x.astype(np.uint64)


def _check_index_shuffle_shapes(index: np.ndarray, seed: np.ndarray, max_index: np.ndarray) -> int:
    n = max(index.size, max_index.size, seed.size // 3)
    if not (index.ndim == 0 or (index.ndim == 1 and index.shape[0] == n)):
        fail("Index bust be a scalar or vector.")
    if seed.shape not in ((3,), (n, 3)):
        fail(
            f"Seed must be a vector of size [3] or a matrix of size [{n}, 3] but got {shape_str(seed.shape)}"
        )
    if not (max_index.ndim == 0 or (max_index.ndim == 1 and max_index.shape[0] == n)):
        fail(
            "Maxval must be a scalar or a vector of the same size as index but got "
            f"{shape_str(max_index.shape)}"
        )
    return n


@kernel_factory(
    "RandomIndexShuffle",
    family="random",
    dtypes=_INTS,
    doc="TensorFlow's Simon-cipher cycle walk, bit-exact",
)
def _random_index_shuffle(node: NodeSpec) -> Any:
    rounds = int(node.attrs.get("rounds", 4))
    if rounds < 4 or rounds % 2:
        fail(f"rounds must be an even number of at least 4, got {rounds}")

    def run(ctx: Any, index: np.ndarray, seed: np.ndarray, max_index: np.ndarray) -> np.ndarray:
        index, seed, max_index = np.asarray(index), np.asarray(seed), np.asarray(max_index)
        n = _check_index_shuffle_shapes(index, seed, max_index)
        seeds = np.broadcast_to(_u64(seed) & np.uint64(0xFFFFFFFF), (n, 3))
        out = index_shuffle(
            np.broadcast_to(_u64(index), (n,)), seeds, np.broadcast_to(_u64(max_index), (n,)), rounds
        )
        out = out.view(np.int64) if index.dtype.kind == "i" else out
        out = out.astype(index.dtype)
        all_scalar = index.ndim == 0 and seed.ndim == 1 and max_index.ndim == 0
        return out.reshape(()) if all_scalar else out

    return run
