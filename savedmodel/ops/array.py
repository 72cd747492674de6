"""Shape, layout, slicing, gathering and tensor-creation ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from savedmodel.format import dtypes as tfdtypes
from savedmodel.ops import _buffers as buffers
from savedmodel.ops._common import (
    arrays_of,
    contiguous,
    fail,
    int_list,
    normalize_axis,
    pad_constant,
    scalar_int,
    shape_str,
)
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory
from savedmodel.policy import check_tensor_bytes, limits_of

ALL = ("all",)
INT32 = np.dtype(np.int32)
INT64 = np.dtype(np.int64)


def _index_dtype(node: NodeSpec, name: str = "out_type") -> np.dtype:
    return node.attrs.dtype(name, tfdtypes.DT.DT_INT32)


# --------------------------------------------------------------------------- pass-through


def _identity(ctx: Any, x: Any) -> Any:
    return x


kernel(
    "StopGradient",
    "PreventGradient",
    family="array",
    dtypes=ALL,
    forwards_input=True,
    aliases_input=True,
    doc="returns its input unchanged",
)(_identity)
kernel("Snapshot", family="array", dtypes=ALL, forwards_input=True, doc="returns its input unchanged")(
    _identity
)


@kernel_factory("CheckNumerics", "CheckNumericsV2", family="array", dtypes=("float16", "bfloat16", "float32"))
def _check_numerics(node: NodeSpec) -> Any:
    message = node.attrs.get("message", b"")
    message = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        wide = x.astype(np.float32) if x.dtype.itemsize < 4 else x
        if np.isnan(wide).any():
            fail(f"{message} : Tensor had NaN values")
        if np.isinf(wide).any():
            fail(f"{message} : Tensor had Inf values")
        return x

    return run


@kernel_factory("EnsureShape", family="array", dtypes=ALL)
def _ensure_shape(node: NodeSpec) -> Any:
    expected = node.attrs.get("shape")

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        if expected is not None:
            ok = len(expected) == x.ndim and all(
                e < 0 or e == d for e, d in zip(expected, x.shape, strict=True)
            )
            if not ok:
                want = "[" + ",".join("?" if e < 0 else str(e) for e in expected) + "]"
                fail(f"Shape of tensor {shape_str(x.shape)} is not compatible with expected shape {want}.")
        return x

    return run


# --------------------------------------------------------------------------- shape queries


@kernel_factory("Shape", family="array", dtypes=ALL)
def _shape(node: NodeSpec) -> Any:
    out = _index_dtype(node)
    return lambda ctx, x: np.array(np.shape(x), dtype=out).reshape(-1)


@kernel_factory("ShapeN", family="array", dtypes=ALL)
def _shape_n(node: NodeSpec) -> Any:
    out = _index_dtype(node)
    return lambda ctx, *xs: [np.array(np.shape(x), dtype=out).reshape(-1) for x in xs]


@kernel_factory("Size", family="array", dtypes=ALL)
def _size(node: NodeSpec) -> Any:
    out = _index_dtype(node)
    return lambda ctx, x: np.array(np.size(x), dtype=out)


@kernel("Rank", family="array", dtypes=ALL)
def _rank(ctx: Any, x: np.ndarray) -> np.ndarray:
    return np.array(np.ndim(x), dtype=np.int32)


# --------------------------------------------------------------------------- reshaping


def reshape_to(x: np.ndarray, shape_value: Any) -> np.ndarray:
    dims = int_list(shape_value, "shape")
    if np.ndim(shape_value) > 1:
        fail(f"shape must be a vector, got shape {shape_str(np.shape(shape_value))}")
    unknown = [i for i, d in enumerate(dims) if d == -1]
    if len(unknown) > 1:
        fail(f"Only one input size may be -1, not both {unknown[0]} and {unknown[1]}")
    if any(d < -1 for d in dims):
        fail(f"Size {min(dims)} must be non-negative, not {min(dims)}")
    known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
    if unknown:
        if known == 0:
            if x.size != 0:
                fail(
                    "Reshape cannot infer the missing input size for an empty tensor unless all "
                    "specified input sizes are non-zero"
                )
            dims[unknown[0]] = 0
        else:
            if x.size % known:
                fail(
                    f"Input to reshape is a tensor with {x.size} values, but the requested shape "
                    f"requires a multiple of {known}"
                )
            dims[unknown[0]] = x.size // known
    elif known != x.size:
        fail(f"Input to reshape is a tensor with {x.size} values, but the requested shape has {known}")
    return np.reshape(x, dims)


@kernel("Reshape", family="array", dtypes=ALL)
def _reshape(ctx: Any, x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    return reshape_to(x, shape)


@kernel("ExpandDims", family="array", dtypes=ALL)
def _expand_dims(ctx: Any, x: np.ndarray, dim: np.ndarray) -> np.ndarray:
    axis = scalar_int(dim, "dim")
    rank = x.ndim
    if not -rank - 1 <= axis <= rank:
        fail(f"Tried to expand dim index {axis} for tensor with {rank} dimensions.")
    return np.expand_dims(x, axis if axis >= 0 else axis + rank + 1)


@kernel_factory("Squeeze", family="array", dtypes=ALL)
def _squeeze(node: NodeSpec) -> Any:
    axes = [int(a) for a in node.attrs.get("squeeze_dims", []) or []]

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        if not axes:
            return np.reshape(x, [d for d in x.shape if d != 1])
        norm = set()
        for a in axes:
            if not -x.ndim <= a < x.ndim:
                fail(f"Tried to squeeze dim index {a} for tensor with {x.ndim} dimensions.")
            a = a + x.ndim if a < 0 else a
            if x.shape[a] != 1:
                fail(f"Can not squeeze dim[{a}], expected a dimension of 1, got {x.shape[a]}")
            norm.add(a)
        return np.reshape(x, [d for i, d in enumerate(x.shape) if i not in norm])

    return run


def _check_perm(perm: list[int], rank: int) -> list[int]:
    if len(perm) != rank:
        fail(f"transpose expects a vector of size {rank}. But input(1) is a vector of size {len(perm)}")
    norm = [p + rank if p < 0 else p for p in perm]
    if sorted(norm) != list(range(rank)):
        fail(f"{perm} is not a valid permutation of {rank} dimensions")
    return norm


@kernel("Transpose", family="array", dtypes=ALL)
def _transpose(ctx: Any, x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    return contiguous(np.transpose(x, _check_perm(int_list(perm, "perm"), x.ndim)))


@kernel("ConjugateTranspose", family="array", dtypes=ALL)
def _conjugate_transpose(ctx: Any, x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    out = contiguous(np.transpose(x, _check_perm(int_list(perm, "perm"), x.ndim)))
    return np.conj(out) if out.dtype.kind == "c" else out


# --------------------------------------------------------------------------- pack / concat / split


@kernel_factory("Pack", family="array", dtypes=ALL)
def _pack(node: NodeSpec) -> Any:
    axis = int(node.attrs.get("axis", 0))

    def run(ctx: Any, *xs: np.ndarray) -> np.ndarray:
        shape = xs[0].shape
        for i, x in enumerate(xs[1:], 1):
            if x.shape != shape:
                fail(
                    f"Shapes of all inputs must match: values[0].shape = {shape_str(shape)} != "
                    f"values[{i}].shape = {shape_str(x.shape)}"
                )
        rank = len(shape) + 1
        if not -rank <= axis < rank:
            fail(f"axis = {axis} not in [{-rank}, {rank})")
        return np.stack(xs, axis=axis if axis >= 0 else axis + rank)

    return run


@kernel_factory("Unpack", family="array", dtypes=ALL)
def _unpack(node: NodeSpec) -> Any:
    axis = int(node.attrs.get("axis", 0))
    num = int(node.attrs["num"])

    def run(ctx: Any, x: np.ndarray) -> list[np.ndarray]:
        a = normalize_axis(axis, x.ndim, "axis")
        if x.shape[a] != num:
            fail(f"Input shape axis {a} must equal {num}, got shape {shape_str(x.shape)}")
        return [np.asarray(np.take(x, i, axis=a), dtype=x.dtype, order="C") for i in range(num)]

    return run


def concat(values: list[np.ndarray], axis_value: Any) -> np.ndarray:
    axis = scalar_int(axis_value, "axis")
    first = values[0]
    rank = first.ndim
    if rank == 0:
        fail("Can't concatenate scalars (use tf.stack instead)")
    a = normalize_axis(axis, rank, "ConcatOp : Expected concatenating dimensions")
    for i, v in enumerate(values[1:], 1):
        if v.ndim != rank or any(
            d1 != d2 for j, (d1, d2) in enumerate(zip(first.shape, v.shape, strict=True)) if j != a
        ):
            fail(
                f"ConcatOp : Dimension mismatch: shape[0] = {shape_str(first.shape)} vs. "
                f"shape[{i}] = {shape_str(v.shape)}"
            )
    dtype = first.dtype
    shape = list(first.shape)
    shape[a] = sum(v.shape[a] for v in values)
    if not (buffers.pools(shape, dtype) and arrays_of(dtype, values)):
        return np.concatenate(values, axis=a)
    return np.concatenate(values, axis=a, out=buffers.empty(shape, dtype))  # large: reused memory


@kernel("ConcatV2", family="array", dtypes=ALL)
def _concat_v2(ctx: Any, *args: np.ndarray) -> np.ndarray:
    return concat(list(args[:-1]), args[-1])


@kernel("Concat", family="array", dtypes=ALL)
def _concat_v1(ctx: Any, axis: np.ndarray, *values: np.ndarray) -> np.ndarray:
    return concat(list(values), axis)


@kernel("ConcatOffset", family="array", dtypes=("int32", "int64"))
def _concat_offset(ctx: Any, axis: np.ndarray, *shapes: np.ndarray) -> list[np.ndarray]:
    a = normalize_axis(scalar_int(axis), len(shapes[0]))
    offset = 0
    out = []
    for s in shapes:
        o = np.zeros_like(s)
        o[a] = offset
        offset += int(s[a])
        out.append(o)
    return out


@kernel_factory("Split", family="array", dtypes=ALL)
def _split(node: NodeSpec) -> Any:
    num = int(node.attrs["num_split"])

    def run(ctx: Any, axis: np.ndarray, x: np.ndarray) -> list[np.ndarray]:
        a = normalize_axis(scalar_int(axis), x.ndim, "split dim")
        if x.shape[a] % num:
            fail(
                f"Number of ways to split should evenly divide the split dimension, but got "
                f"split_dim {a} (size = {x.shape[a]}) and num_split {num}"
            )
        size = x.shape[a] // num
        index: list[slice] = [slice(None)] * x.ndim
        parts = []
        for k in range(num):  # plain slicing: np.split costs several µs per call in Python
            index[a] = slice(k * size, (k + 1) * size)
            parts.append(contiguous(x[tuple(index)]))
        return parts

    return run


@kernel_factory("SplitV", family="array", dtypes=ALL)
def _split_v(node: NodeSpec) -> Any:
    def run(ctx: Any, x: np.ndarray, sizes: np.ndarray, axis: np.ndarray) -> list[np.ndarray]:
        a = normalize_axis(scalar_int(axis), x.ndim, "split dim")
        parts = int_list(sizes, "size_splits")
        unknown = [i for i, s in enumerate(parts) if s == -1]
        if len(unknown) > 1:
            fail("There can only be one -1 in the input.")
        total = sum(s for s in parts if s != -1)
        if unknown:
            parts[unknown[0]] = x.shape[a] - total
            if parts[unknown[0]] < 0:
                fail(
                    f"Determined shape must either match input shape along split_dim exactly if fully "
                    f"specified, or be less than the size of the input along split_dim if not fully "
                    f"specified.  Got: {total}"
                )
        elif total != x.shape[a]:
            fail(
                f"Determined shape must either match input shape along split_dim exactly if fully "
                f"specified, or be less than the size of the input along split_dim if not fully "
                f"specified.  Got: {total}"
            )
        if any(s < 0 for s in parts):
            fail(f"Split sizes must be non-negative: {parts}")
        bounds = np.cumsum(parts)[:-1]
        return [contiguous(p) for p in np.split(x, bounds, axis=a)]

    return run


# --------------------------------------------------------------------------- slicing


@kernel("Slice", family="array", dtypes=ALL)
def _slice(ctx: Any, x: np.ndarray, begin: np.ndarray, size: np.ndarray) -> np.ndarray:
    b = int_list(begin, "begin")
    s = int_list(size, "size")
    if len(b) != x.ndim or len(s) != x.ndim:
        fail(
            f"Expected begin and size arguments to be 1-D tensors of size {x.ndim}, but got shapes "
            f"{shape_str(np.shape(begin))} and {shape_str(np.shape(size))} instead."
        )
    index = []
    for i, (bi, si, d) in enumerate(zip(b, s, x.shape, strict=True)):
        if si == -1:
            si = d - bi
        if not (0 <= bi <= d and 0 <= si and bi + si <= d):
            fail(f"Expected begin[{i}] in [0, {d}] and size[{i}] in [0, {d - bi}], but got {bi} and {si}")
        index.append(slice(bi, bi + si))
    return contiguous(x[tuple(index)])


def strided_slice_index(
    shape: tuple[int, ...],
    begin: list[int],
    end: list[int],
    strides: list[int],
    begin_mask: int,
    end_mask: int,
    ellipsis_mask: int,
    new_axis_mask: int,
    shrink_axis_mask: int,
) -> tuple[Any, ...]:
    """Translate a StridedSlice spec into a NumPy index tuple, with TensorFlow's clamping rules."""
    n = len(begin)
    if not (len(end) == n and len(strides) == n):
        fail("Expected begin, end, and strides to be 1D equal size tensors")
    if bin(ellipsis_mask).count("1") > 1:
        fail("Multiple ellipses in slice spec not allowed")
    if not ellipsis_mask:  # an implied ellipsis after the last entry
        ellipsis_mask = 1 << n
        n_entries = n + 1
    else:
        n_entries = n
    rank = len(shape)
    axes_after = 0
    seen = False
    for i in range(n_entries):
        if seen and (new_axis_mask >> i) & 1 and not (ellipsis_mask >> i) & 1:
            axes_after += 1
        if (ellipsis_mask >> i) & 1:
            seen = True
    index: list[Any] = []
    full = 0
    for i in range(n_entries):
        bit = 1 << i
        if ellipsis_mask & bit:
            stop = min(rank - (n_entries - i) + 1 + axes_after, rank)
            while full < stop:
                index.append(slice(None))
                full += 1
            continue
        if new_axis_mask & bit:
            index.append(None)
            continue
        if full >= rank:
            fail(f"Index out of range using input dim {full}; input has only {rank} dims")
        d = shape[full]
        stride = strides[i]
        if shrink_axis_mask & bit:
            idx = begin[i] + d if begin[i] < 0 else begin[i]
            if not 0 <= idx < d:
                fail(f"slice index {begin[i]} of dimension {full} out of bounds.")
            index.append(idx)
        else:
            if stride == 0:
                fail(f"strides[{i}] must be non-zero")
            lo, hi = (0, d) if stride > 0 else (-1, d - 1)

            b = _clamp_bound(begin[i], bool(begin_mask & bit), stride > 0, lo, hi, d)
            e = _clamp_bound(end[i], bool(end_mask & bit), stride < 0, lo, hi, d)
            if stride > 0:
                index.append(slice(b, e, stride))
            elif b < 0:
                index.append(slice(0, 0))
            else:
                index.append(slice(b, None if e < 0 else e, stride))
        full += 1
    return tuple(index)


def _clamp_bound(value: int, masked: bool, use_lo: bool, lo: int, hi: int, d: int) -> int:
    if masked:
        return lo if use_lo else hi
    value = value + d if value < 0 else value
    return min(max(value, lo), hi)


@kernel_factory("StridedSlice", family="array", dtypes=ALL)
def _strided_slice(node: NodeSpec) -> Any:
    masks = [
        int(node.attrs.get(name, 0))
        for name in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
    ]

    def run(ctx: Any, x: np.ndarray, begin: np.ndarray, end: np.ndarray, strides: np.ndarray) -> np.ndarray:
        index = strided_slice_index(x.shape, int_list(begin), int_list(end), int_list(strides), *masks)
        return np.asarray(np.asarray(x)[index], dtype=x.dtype, order="C")

    return run


@kernel_factory("StridedSliceGrad", family="array", dtypes=ALL)
def _strided_slice_grad(node: NodeSpec) -> Any:
    masks = [
        int(node.attrs.get(name, 0))
        for name in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
    ]

    def run(
        ctx: Any, shape: np.ndarray, begin: np.ndarray, end: np.ndarray, strides: np.ndarray, dy: np.ndarray
    ) -> np.ndarray:
        out_shape = tuple(int_list(shape))
        index = strided_slice_index(out_shape, int_list(begin), int_list(end), int_list(strides), *masks)
        out = np.zeros(out_shape, dtype=dy.dtype)
        target = out[index]
        out[index] = np.reshape(dy, np.shape(target))
        return out

    return run


# --------------------------------------------------------------------------- gather


def _check_indices(indices: np.ndarray, limit: int, what: str = "indices") -> None:
    if indices.size and (indices.min() < 0 or indices.max() >= limit):
        flat = indices.reshape(-1)
        bad = int(np.nonzero((flat < 0) | (flat >= limit))[0][0])
        fail(f"{what}[{bad}] = {int(flat[bad])} is not in [0, {limit})")


def gather(params: np.ndarray, indices: np.ndarray, axis: int, batch_dims: int) -> np.ndarray:
    if params.ndim == 0:
        fail("params must be at least 1 dimensional")
    a = normalize_axis(axis, params.ndim, "axis")
    if batch_dims < 0:
        batch_dims += indices.ndim
    if batch_dims > a:
        fail(f"batch_dims ({batch_dims}) must be less than or equal to axis ({a}).")
    _check_indices(indices, params.shape[a])
    if batch_dims == 0:
        return np.asarray(np.take(params, indices, axis=a), dtype=params.dtype)
    if params.shape[:batch_dims] != indices.shape[:batch_dims]:
        fail(
            f"params.shape[:{batch_dims}] {shape_str(params.shape)} and indices.shape[:{batch_dims}] "
            f"{shape_str(indices.shape)} must match"
        )
    batch = params.shape[:batch_dims]
    flat_p = params.reshape((-1,) + params.shape[batch_dims:])
    flat_i = indices.reshape((-1,) + indices.shape[batch_dims:])
    parts = [np.take(flat_p[b], flat_i[b], axis=a - batch_dims) for b in range(flat_p.shape[0])]
    inner = params.shape[batch_dims:a] + indices.shape[batch_dims:] + params.shape[a + 1 :]
    if not parts:
        return np.zeros(batch + inner, dtype=params.dtype)
    return np.stack(parts).reshape(batch + inner)


@kernel_factory("GatherV2", family="array", dtypes=ALL)
def _gather_v2(node: NodeSpec) -> Any:
    batch_dims = int(node.attrs.get("batch_dims", 0))

    def run(ctx: Any, params: np.ndarray, indices: np.ndarray, axis: np.ndarray) -> np.ndarray:
        return gather(params, indices, scalar_int(axis, "axis"), batch_dims)

    return run


@kernel("Gather", family="array", dtypes=ALL)
def _gather_v1(ctx: Any, params: np.ndarray, indices: np.ndarray) -> np.ndarray:
    return gather(params, indices, 0, 0)


# --------------------------------------------------------------------------- creation


@kernel("Fill", family="array", dtypes=ALL)
def _fill(ctx: Any, dims: np.ndarray, value: np.ndarray) -> np.ndarray:
    if np.ndim(value) != 0:
        fail(f"value must be a scalar, got shape {shape_str(np.shape(value))}")
    shape = int_list(dims, "dims")
    if any(d < 0 for d in shape):
        fail(f"dims must be non-negative: {shape}")
    check_tensor_bytes(shape, value.dtype.itemsize, "Fill", limits_of(ctx))
    out = np.empty(shape, dtype=value.dtype)
    out.fill(value.item() if value.dtype.kind != "O" else value[()])
    if value.dtype.kind == "O":
        out[...] = value[()]
    return out


@kernel_factory("Range", family="array", dtypes=("int32", "int64", "float32", "float64", "float16"))
def _range(node: NodeSpec) -> Any:
    out_attr = node.attrs.dtype("Tidx") if "Tidx" in node.attrs else None

    def run(ctx: Any, start: np.ndarray, limit: np.ndarray, delta: np.ndarray) -> np.ndarray:
        for name, v in (("start", start), ("limit", limit), ("delta", delta)):
            if np.ndim(v) != 0:
                fail(f"{name} must be a scalar, not shape {shape_str(np.shape(v))}")
        s, lim, d = start[()], limit[()], delta[()]
        if d == 0:
            fail("Requires delta != 0")
        if d > 0 and s > lim:
            fail(f"Requires start <= limit when delta > 0: {s}/{lim}")
        if d < 0 and s < lim:
            fail(f"Requires start >= limit when delta < 0: {s}/{lim}")
        dtype = out_attr if out_attr is not None else start.dtype
        if dtype.kind in "iu":
            size = (abs(int(lim) - int(s)) + abs(int(d)) - 1) // abs(int(d))
            check_tensor_bytes([size], 8, "Range", limits_of(ctx))
            return (int(s) + np.arange(size, dtype=np.int64) * int(d)).astype(dtype)
        span = abs((float(lim) - float(s)) / float(d))
        if not np.isfinite(span):
            fail(f"Requires finite start, limit and delta: {s}/{lim}/{d}")
        size = int(np.ceil(span))
        check_tensor_bytes([size], dtype.itemsize, "Range", limits_of(ctx))
        if size == 0:
            return np.zeros(0, dtype=dtype)
        steps = np.full(size, d, dtype=dtype)
        steps[0] = s
        return np.add.accumulate(steps, dtype=dtype)

    return run


@kernel_factory("LinSpace", family="array", dtypes=("float32", "float64"))
def _lin_space(node: NodeSpec) -> Any:
    def run(ctx: Any, start: np.ndarray, stop: np.ndarray, num: np.ndarray) -> np.ndarray:
        n = scalar_int(num, "num")
        if n <= 0:
            fail(f"Requires num > 0: {n}")
        check_tensor_bytes([n], start.dtype.itemsize, "LinSpace", limits_of(ctx))
        if n == 1:
            return np.array([start[()]], dtype=start.dtype)
        step = (stop[()] - start[()]) / (n - 1)
        out = start[()] + np.arange(n, dtype=start.dtype) * step
        out[-1] = stop[()]
        return out.astype(start.dtype)

    return run


@kernel("ZerosLike", family="array", dtypes=ALL)
def _zeros_like(ctx: Any, x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "O":
        out = np.empty(x.shape, dtype=object)
        out[...] = b""
        return out
    return np.zeros(x.shape, dtype=x.dtype)


@kernel("OnesLike", family="array", dtypes=ALL)
def _ones_like(ctx: Any, x: np.ndarray) -> np.ndarray:
    return np.ones(x.shape, dtype=x.dtype)


@kernel("Tile", family="array", dtypes=ALL)
def _tile(ctx: Any, x: np.ndarray, multiples: np.ndarray) -> np.ndarray:
    reps = int_list(multiples, "multiples")
    if len(reps) != x.ndim:
        fail(f"Expected multiples argument to be a vector of length {x.ndim} but got length {len(reps)}")
    if any(r < 0 for r in reps):
        fail(f"Expected multiples[i] >= 0, but got {reps}")
    check_tensor_bytes(
        [d * r for d, r in zip(x.shape, reps, strict=True)], x.dtype.itemsize, "Tile", limits_of(ctx)
    )
    return np.tile(x, reps) if x.ndim else x.copy()


# --------------------------------------------------------------------------- padding


def _paddings(paddings: np.ndarray, rank: int) -> list[tuple[int, int]]:
    p = np.asarray(paddings)
    if p.shape != (rank, 2):
        fail(
            f"The first dimension of paddings must be the rank of inputs {shape_str(p.shape)}, "
            f"input rank {rank}"
        )
    pairs = [(int(a), int(b)) for a, b in p.reshape(-1, 2)]
    if any(a < 0 or b < 0 for a, b in pairs):
        fail(f"Paddings must be non-negative: {pairs}")
    return pairs


@kernel("Pad", family="array", dtypes=ALL)
def _pad(ctx: Any, x: np.ndarray, paddings: np.ndarray) -> np.ndarray:
    return pad_constant(x, _paddings(paddings, x.ndim), b"" if x.dtype.kind == "O" else 0)


@kernel("PadV2", family="array", dtypes=ALL)
def _pad_v2(ctx: Any, x: np.ndarray, paddings: np.ndarray, value: np.ndarray) -> np.ndarray:
    if np.ndim(value) != 0:
        fail("constant_values must be a scalar")
    return pad_constant(x, _paddings(paddings, x.ndim), value[()])


@kernel_factory("MirrorPad", family="array", dtypes=ALL)
def _mirror_pad(node: NodeSpec) -> Any:
    mode = node.attrs["mode"]
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    np_mode = "reflect" if mode == "REFLECT" else "symmetric"
    offset = 1 if mode == "REFLECT" else 0

    def run(ctx: Any, x: np.ndarray, paddings: np.ndarray) -> np.ndarray:
        pairs = _paddings(paddings, x.ndim)
        for d, (a, b) in zip(x.shape, pairs, strict=True):
            if a > d - offset or b > d - offset:
                fail(
                    f"paddings must be no greater than the dimension size: {a}, {b} greater than {d - offset}"
                )
        return np.pad(x, pairs, mode=np_mode)

    return run


@kernel_factory("MirrorPadGrad", family="array", dtypes=ALL)
def _mirror_pad_grad(node: NodeSpec) -> Any:
    """The gradient of MirrorPad: each padded element's gradient added back onto its source."""
    mode = node.attrs.get("mode", b"REFLECT")
    reflect = (mode.decode() if isinstance(mode, bytes) else str(mode)) == "REFLECT"

    def run(ctx: Any, x: np.ndarray, paddings: np.ndarray) -> np.ndarray:
        out = np.asarray(x)
        for axis, (before, after) in enumerate(_paddings(paddings, x.ndim)):
            size = out.shape[axis] - before - after
            if size < 0 or before > size - reflect or after > size - reflect:
                fail(f"paddings {before}, {after} are too large for the output dimension {size} of {axis}")
            out = _fold_mirror(np.moveaxis(out, axis, 0), before, after, reflect)
            out = np.moveaxis(out, 0, axis)
        return np.ascontiguousarray(out)

    return run


def _fold_mirror(x: np.ndarray, before: int, after: int, reflect: bool) -> np.ndarray:
    size = x.shape[0] - before - after
    core = x[before : before + size].copy()
    shift = 1 if reflect else 0
    if before:
        core[shift : shift + before] += x[:before][::-1]
    if after:
        end = size - shift
        core[end - after : end] += x[before + size :][::-1]
    return core


# --------------------------------------------------------------------------- reverse / roll


@kernel("ReverseV2", family="array", dtypes=ALL)
def _reverse_v2(ctx: Any, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    axes = set()
    for a in int_list(axis, "axis"):
        n = normalize_axis(a, x.ndim, "axis")
        if n in axes:
            fail(f"axis {n} specified more than once.")
        axes.add(n)
    return contiguous(np.flip(x, tuple(sorted(axes)))) if axes else x


@kernel("Reverse", family="array", dtypes=ALL)
def _reverse_v1(ctx: Any, x: np.ndarray, dims: np.ndarray) -> np.ndarray:
    if dims.shape != (x.ndim,):
        fail(f"'dims' must have the same number of values as 'input' has dimensions: {shape_str(dims.shape)}")
    axes = tuple(i for i, flag in enumerate(dims) if flag)
    return contiguous(np.flip(x, axes)) if axes else x


@kernel("Roll", family="array", dtypes=ALL)
def _roll(ctx: Any, x: np.ndarray, shift: np.ndarray, axis: np.ndarray) -> np.ndarray:
    shifts, axes = int_list(shift), int_list(axis)
    if len(shifts) != len(axes):
        fail(f"shift and axis must have the same size: {len(shifts)} vs {len(axes)}")
    totals: dict[int, int] = {}
    for s_, a in zip(shifts, axes, strict=True):
        n = normalize_axis(a, x.ndim, "axis")
        totals[n] = totals.get(n, 0) + s_
    if not totals:
        return x
    return np.roll(x, list(totals.values()), axis=list(totals.keys()))


@kernel_factory("ReverseSequence", family="array", dtypes=ALL)
def _reverse_sequence(node: NodeSpec) -> Any:
    seq_dim = int(node.attrs["seq_dim"])
    batch_dim = int(node.attrs.get("batch_dim", 0))

    def run(ctx: Any, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        sd, bd = normalize_axis(seq_dim, x.ndim), normalize_axis(batch_dim, x.ndim)
        if lengths.shape != (x.shape[bd],):
            fail(f"Length of seq_lengths != input.dims({bd}), ({lengths.shape[0]} vs. {x.shape[bd]})")
        out = x.copy()
        for b_, n in enumerate(lengths):
            n = int(n)
            if not 0 <= n <= x.shape[sd]:
                fail(f"seq_lengths[{b_}] = {n} is not in [0, {x.shape[sd]}]")
            src = [slice(None)] * x.ndim
            src[bd] = b_
            src[sd] = slice(0, n)
            out[tuple(src)] = np.flip(x[tuple(src)], axis=sd - (1 if bd < sd else 0))
        return out

    return run


# --------------------------------------------------------------------------- where / nd gather & scatter


@kernel("Where", family="array", dtypes=ALL)
def _where(ctx: Any, x: np.ndarray) -> np.ndarray:
    mask = x != 0 if x.dtype != np.bool_ else x
    if x.dtype.kind == "O":
        fail("Where does not take string inputs")
    return np.argwhere(mask).astype(np.int64).reshape(-1, x.ndim)


def _nd_indices(indices: np.ndarray, shape: tuple[int, ...], what: str = "indices") -> tuple[np.ndarray, int]:
    if indices.ndim < 1:
        fail(f"{what} must be at least a vector")
    depth = indices.shape[-1]
    if depth > len(shape):
        fail(f"index innermost dimension length must be <= params rank; saw: {depth} vs. {len(shape)}")
    flat = indices.reshape(-1, depth).astype(np.int64)
    for k in range(depth):
        bad = (flat[:, k] < 0) | (flat[:, k] >= shape[k])
        if bad.any():
            i = int(np.nonzero(bad)[0][0])
            fail(
                f"{what}[{i}] = [{', '.join(str(int(v)) for v in flat[i])}] does not index into param shape "
                f"{shape_str(shape)}"
            )
    return flat, depth


@kernel_factory("GatherNd", family="array", dtypes=ALL)
def _gather_nd(node: NodeSpec) -> Any:
    batch_dims = int(node.attrs.get("batch_dims", 0))

    def run(ctx: Any, params: np.ndarray, indices: np.ndarray) -> np.ndarray:
        if batch_dims:
            batch = params.shape[:batch_dims]
            fp = params.reshape((-1,) + params.shape[batch_dims:])
            fi = indices.reshape((-1,) + indices.shape[batch_dims:])
            parts = [run(ctx, fp[i], fi[i]) for i in range(fp.shape[0])]
            inner = indices.shape[batch_dims:-1] + params.shape[batch_dims + indices.shape[-1] :]
            return np.stack(parts).reshape(batch + inner) if parts else np.zeros(batch + inner, params.dtype)
        flat, depth = _nd_indices(indices, params.shape)
        gathered = (
            params[tuple(flat.T)] if depth else np.broadcast_to(params, (flat.shape[0],) + params.shape)
        )
        return np.asarray(gathered, dtype=params.dtype).reshape(indices.shape[:-1] + params.shape[depth:])

    return run


def _scatter_into(out: np.ndarray, indices: np.ndarray, updates: np.ndarray, mode: str) -> np.ndarray:
    flat, depth = _nd_indices(indices, out.shape)
    slice_shape = out.shape[depth:]
    expected = indices.shape[:-1] + slice_shape
    if updates.shape != expected:
        fail(
            f"updates has shape {shape_str(updates.shape)}, expected {shape_str(expected)} "
            f"(indices.shape[:-1] + shape[indices.shape[-1]:])"
        )
    upd = updates.reshape((-1,) + slice_shape)
    target = tuple(flat.T)
    if mode == "update":
        out[target] = upd
    elif mode == "add":
        np.add.at(out, target, upd)
    elif mode == "sub":
        np.subtract.at(out, target, upd)
    elif mode == "max":
        np.maximum.at(out, target, upd)
    elif mode == "min":
        np.minimum.at(out, target, upd)
    return out


@kernel("ScatterNd", family="array", dtypes=ALL)
def _scatter_nd(ctx: Any, indices: np.ndarray, updates: np.ndarray, shape: np.ndarray) -> np.ndarray:
    dims = int_list(shape, "shape")
    if any(d < 0 for d in dims):
        fail(f"shape must be non-negative: {dims}")
    check_tensor_bytes(dims, updates.dtype.itemsize, "ScatterNd", limits_of(ctx))
    out = np.zeros(dims, dtype=updates.dtype)
    if out.dtype == np.bool_:
        return _scatter_into(out, indices, updates, "update")
    return _scatter_into(out, indices, updates, "add")


def _tensor_scatter(mode: str) -> Any:
    def run(ctx: Any, tensor: np.ndarray, indices: np.ndarray, updates: np.ndarray) -> np.ndarray:
        return _scatter_into(np.array(tensor, copy=True), indices, updates, mode)

    return run


for _op, _mode in [
    ("TensorScatterUpdate", "update"),
    ("TensorScatterAdd", "add"),
    ("ScatterNdNonAliasingAdd", "add"),
    ("TensorScatterSub", "sub"),
    ("TensorScatterMax", "max"),
    ("TensorScatterMin", "min"),
]:
    kernel(_op, family="array", dtypes=ALL)(_tensor_scatter(_mode))


# --------------------------------------------------------------------------- one-hot, broadcast


@kernel_factory("OneHot", family="array", dtypes=ALL)
def _one_hot(node: NodeSpec) -> Any:
    axis = int(node.attrs.get("axis", -1))

    def run(ctx: Any, indices: np.ndarray, depth: np.ndarray, on: np.ndarray, off: np.ndarray) -> np.ndarray:
        d = scalar_int(depth, "depth")
        if d < 0:
            fail(f"depth must be non-negative, got: {d}")
        check_tensor_bytes([*indices.shape, d], max(on.dtype.itemsize, 8), "OneHot", limits_of(ctx))
        rank = indices.ndim + 1
        if not -1 <= axis < rank:
            fail(f"Expected axis to be -1 or between [0, {rank}).  But received: {axis}")
        a = rank - 1 if axis == -1 else axis
        hot = np.expand_dims(indices, a) == np.arange(d).reshape([-1 if i == a else 1 for i in range(rank)])
        return np.where(hot, on[()], off[()]).astype(on.dtype)

    return run


@kernel("BroadcastTo", family="array", dtypes=ALL)
def _broadcast_to(ctx: Any, x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    dims = int_list(shape, "shape")
    if all(d >= 0 for d in dims):
        check_tensor_bytes(dims, x.dtype.itemsize, "BroadcastTo", limits_of(ctx))
    try:
        return np.array(np.broadcast_to(x, dims))
    except ValueError:
        fail(f"Unable to broadcast tensor of shape {shape_str(x.shape)} to tensor of shape {shape_str(dims)}")


@kernel("BroadcastArgs", family="array", dtypes=("int32", "int64"))
def _broadcast_args(ctx: Any, s0: np.ndarray, s1: np.ndarray) -> np.ndarray:
    try:
        return np.array(np.broadcast_shapes(tuple(int_list(s0)), tuple(int_list(s1))), dtype=s0.dtype)
    except ValueError:
        fail(f"Incompatible shapes: {shape_str(int_list(s0))} vs. {shape_str(int_list(s1))}")


@kernel("BroadcastGradientArgs", family="array", dtypes=("int32", "int64"))
def _broadcast_gradient_args(ctx: Any, s0: np.ndarray, s1: np.ndarray) -> list[np.ndarray]:
    a, b_ = int_list(s0), int_list(s1)
    try:
        out = np.broadcast_shapes(tuple(a), tuple(b_))
    except ValueError:
        fail(f"Incompatible shapes: {shape_str(a)} vs. {shape_str(b_)}")
    rank = len(out)
    pa, pb = [1] * (rank - len(a)) + a, [1] * (rank - len(b_)) + b_
    ra = [i for i in range(rank) if pa[i] == 1]
    rb = [i for i in range(rank) if pb[i] == 1]
    return [np.array(ra, dtype=s0.dtype), np.array(rb, dtype=s0.dtype)]


# --------------------------------------------------------------------------- space/depth/batch


def _block_format(node: NodeSpec) -> tuple[int, str]:
    fmt = node.attrs.get("data_format", b"NHWC")
    return int(node.attrs["block_size"]), fmt.decode() if isinstance(fmt, bytes) else fmt


@kernel_factory("SpaceToDepth", family="array", dtypes=ALL)
def _space_to_depth(node: NodeSpec) -> Any:
    bs, fmt = _block_format(node)

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        xl = np.moveaxis(x, 1, -1) if fmt == "NCHW" else x
        n, h, w, c = xl.shape
        if h % bs or w % bs:
            fail(f"Image width {w} and height {h} should be divisible by block_size: {bs}")
        out = (
            xl.reshape(n, h // bs, bs, w // bs, bs, c)
            .transpose(0, 1, 3, 2, 4, 5)
            .reshape(n, h // bs, w // bs, bs * bs * c)
        )
        return contiguous(np.moveaxis(out, -1, 1)) if fmt == "NCHW" else contiguous(out)

    return run


@kernel_factory("DepthToSpace", family="array", dtypes=ALL)
def _depth_to_space(node: NodeSpec) -> Any:
    bs, fmt = _block_format(node)

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        xl = np.moveaxis(x, 1, -1) if fmt == "NCHW" else x
        n, h, w, c = xl.shape
        if c % (bs * bs):
            fail(f"Input depth dimension {c} should be divisible by: {bs * bs}")
        out = (
            xl.reshape(n, h, w, bs, bs, c // (bs * bs))
            .transpose(0, 1, 3, 2, 4, 5)
            .reshape(n, h * bs, w * bs, c // (bs * bs))
        )
        return contiguous(np.moveaxis(out, -1, 1)) if fmt == "NCHW" else contiguous(out)

    return run


@kernel("SpaceToBatchND", family="array", dtypes=ALL)
def _space_to_batch_nd(ctx: Any, x: np.ndarray, block_shape: np.ndarray, paddings: np.ndarray) -> np.ndarray:
    block = int_list(block_shape, "block_shape")
    m = len(block)
    pads = np.asarray(paddings).reshape(m, 2)
    if any(v < 1 for v in block) or (pads < 0).any():
        fail("block_shape must be positive and paddings non-negative")
    padded = np.pad(x, [(0, 0)] + [(int(a), int(b_)) for a, b_ in pads] + [(0, 0)] * (x.ndim - 1 - m))
    batch = x.shape[0]
    spatial = padded.shape[1 : 1 + m]
    for s_, bsz in zip(spatial, block, strict=True):
        if s_ % bsz:
            fail(f"padded_shape {shape_str(spatial)} must be divisible by block_shape {shape_str(block)}")
    rest = padded.shape[1 + m :]
    shape = [batch]
    for s_, bsz in zip(spatial, block, strict=True):
        shape += [s_ // bsz, bsz]
    r = padded.reshape(shape + list(rest))
    # move the block offsets to the front: [b1..bm, batch, s1/b1..sm/bm, rest]
    perm = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)]
    perm += list(range(1 + 2 * m, r.ndim))
    out = r.transpose(perm)
    return contiguous(
        out.reshape(
            [batch * int(np.prod(block))]
            + [s_ // bsz for s_, bsz in zip(spatial, block, strict=True)]
            + list(rest)
        )
    )


@kernel("BatchToSpaceND", family="array", dtypes=ALL)
def _batch_to_space_nd(ctx: Any, x: np.ndarray, block_shape: np.ndarray, crops: np.ndarray) -> np.ndarray:
    block = int_list(block_shape, "block_shape")
    m = len(block)
    crop = np.asarray(crops).reshape(m, 2)
    prod = int(np.prod(block))
    if x.shape[0] % prod:
        fail(f"Input batch dimension ({x.shape[0]}) is not divisible by product of block sizes ({prod})")
    batch = x.shape[0] // prod
    spatial = x.shape[1 : 1 + m]
    rest = x.shape[1 + m :]
    r = x.reshape(block + [batch] + list(spatial) + list(rest))
    perm = [m]
    for i in range(m):
        perm += [m + 1 + i, i]
    perm += list(range(2 * m + 1, r.ndim))
    out = r.transpose(perm).reshape(
        [batch] + [s_ * bsz for s_, bsz in zip(spatial, block, strict=True)] + list(rest)
    )
    index = [slice(None)]
    for i in range(m):
        start, stop = int(crop[i, 0]), out.shape[1 + i] - int(crop[i, 1])
        if start < 0 or stop < start:
            fail(f"Crops must be non-negative and not exceed the block-expanded size: {crop.tolist()}")
        index.append(slice(start, stop))
    return contiguous(out[tuple(index)])


# --------------------------------------------------------------------------- sets, permutations, search


@kernel_factory("Unique", family="array", dtypes=ALL)
def _unique(node: NodeSpec) -> Any:
    idx_type = node.attrs.dtype("out_idx", tfdtypes.DT.DT_INT32)

    def run(ctx: Any, x: np.ndarray) -> list[np.ndarray]:
        values, idx, _ = _unique_first_order(x)
        return [values, idx.astype(idx_type)]

    return run


@kernel_factory("UniqueWithCounts", family="array", dtypes=ALL)
def _unique_with_counts(node: NodeSpec) -> Any:
    idx_type = node.attrs.dtype("out_idx", tfdtypes.DT.DT_INT32)

    def run(ctx: Any, x: np.ndarray) -> list[np.ndarray]:
        values, idx, counts = _unique_first_order(x)
        return [values, idx.astype(idx_type), counts.astype(idx_type)]

    return run


def _unique_first_order(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique values in order of first appearance (as TensorFlow returns them)."""
    if x.ndim != 1:
        fail(f"unique expects a 1D vector, got {shape_str(x.shape)}")
    seen: dict[Any, int] = {}
    order: list[Any] = []
    idx = np.empty(x.shape[0], dtype=np.int64)
    counts: list[int] = []
    for i, v in enumerate(x.tolist() if x.dtype.kind != "O" else list(x)):
        key = v
        if key not in seen:
            seen[key] = len(order)
            order.append(x[i])
            counts.append(0)
        idx[i] = seen[key]
        counts[seen[key]] += 1
    values = np.array(order, dtype=x.dtype) if order else np.zeros(0, dtype=x.dtype)
    if x.dtype.kind == "O":
        values = np.empty(len(order), dtype=object)
        values[:] = order
    return values, idx, np.array(counts, dtype=np.int64)


@kernel_factory("ListDiff", family="array", dtypes=ALL)
def _list_diff(node: NodeSpec) -> Any:
    idx_type = node.attrs.dtype("out_idx", tfdtypes.DT.DT_INT32)

    def run(ctx: Any, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        drop = set(y.tolist() if y.dtype.kind != "O" else list(y))
        keep = [i for i, v in enumerate(x.tolist() if x.dtype.kind != "O" else list(x)) if v not in drop]
        return [x[keep], np.array(keep, dtype=idx_type)]

    return run


@kernel("InvertPermutation", family="array", dtypes=("int32", "int64"))
def _invert_permutation(ctx: Any, x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    if sorted(x.tolist()) != list(range(n)):
        fail(f"{x.tolist()} is not a permutation of 0..{n - 1}")
    out = np.empty_like(x)
    out[x] = np.arange(n, dtype=x.dtype)
    return out


def _search(side: str) -> Any:
    def prepare(node: NodeSpec) -> Any:
        out = node.attrs.dtype("out_type", tfdtypes.DT.DT_INT32)

        def run(ctx: Any, sorted_inputs: np.ndarray, values: np.ndarray) -> np.ndarray:
            if sorted_inputs.ndim != 2 or values.ndim != 2 or sorted_inputs.shape[0] != values.shape[0]:
                fail("sorted_inputs and values must be 2-D with the same number of rows")
            res = [np.searchsorted(sorted_inputs[i], values[i], side=side) for i in range(values.shape[0])]
            return np.array(res, dtype=out).reshape(values.shape)

        return run

    return prepare


kernel_factory("LowerBound", family="array", dtypes=ALL)(_search("left"))
kernel_factory("UpperBound", family="array", dtypes=ALL)(_search("right"))


@kernel_factory("Bucketize", family="array", dtypes=("int32", "int64", "float32", "float64"))
def _bucketize(node: NodeSpec) -> Any:
    boundaries = np.asarray(node.attrs["boundaries"], dtype=np.float64)

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.searchsorted(boundaries, x.astype(np.float64), side="right").astype(np.int32)

    return run


@kernel_factory("UnravelIndex", family="array", dtypes=("int32", "int64"))
def _unravel_index(node: NodeSpec) -> Any:
    def run(ctx: Any, indices: np.ndarray, dims: np.ndarray) -> np.ndarray:
        shape = int_list(dims)
        total = int(np.prod(shape))
        if indices.size and (indices.min() < 0 or indices.max() >= total):
            fail(f"index out of bounds for array with size {total}")
        out = np.array(np.unravel_index(indices, shape), dtype=indices.dtype)
        return out

    return run


@kernel_factory("Empty", family="array", dtypes=ALL)
def _empty(node: NodeSpec) -> Any:
    dtype = node.attrs.dtype("dtype")

    def run(ctx: Any, shape: np.ndarray) -> np.ndarray:
        dims = int_list(shape)
        if all(d >= 0 for d in dims):
            check_tensor_bytes(dims, dtype.itemsize, "Empty", limits_of(ctx))
        if dtype.kind == "O":
            out = np.empty(dims, dtype=object)
            out[...] = b""
            return out
        return np.zeros(dims, dtype=dtype)

    return run


# --------------------------------------------------------------------------- matrix structure


@kernel("MatrixBandPart", family="array", dtypes=ALL)
def _matrix_band_part(ctx: Any, x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    if x.ndim < 2:
        fail(f"input must be at least 2-dim, received shape: {shape_str(x.shape)}")
    m, n = x.shape[-2:]
    lo, hi = scalar_int(lower), scalar_int(upper)
    if lo > m or hi > n:
        fail(f"num_lower ({lo}) must be <= rows ({m}) and num_upper ({hi}) <= columns ({n})")
    i = np.arange(m).reshape(-1, 1)
    j = np.arange(n).reshape(1, -1)
    keep = ((lo < 0) | (i - j <= lo)) & ((hi < 0) | (j - i <= hi))
    return np.where(keep, x, np.zeros_like(x))


@kernel("Diag", family="array", dtypes=ALL)
def _diag(ctx: Any, x: np.ndarray) -> np.ndarray:
    flat = x.reshape(-1)
    out = np.zeros((flat.size, flat.size), dtype=x.dtype)
    out[np.arange(flat.size), np.arange(flat.size)] = flat
    return out.reshape(x.shape + x.shape)


@kernel("DiagPart", family="array", dtypes=ALL)
def _diag_part(ctx: Any, x: np.ndarray) -> np.ndarray:
    if x.ndim % 2 or x.shape[: x.ndim // 2] != x.shape[x.ndim // 2 :]:
        fail(f"Input must have even rank and matching halves: {shape_str(x.shape)}")
    half = x.shape[: x.ndim // 2]
    n = int(np.prod(half))
    return x.reshape(n, n)[np.arange(n), np.arange(n)].reshape(half)


def _diag_align(node: NodeSpec) -> tuple[bool, bool]:
    align = node.attrs.get("align", b"RIGHT_LEFT")
    align = align.decode() if isinstance(align, bytes) else str(align)
    sup, sub = align.split("_")
    return sup == "RIGHT", sub == "RIGHT"


def _diag_offset(d: int, m: int, n: int, length: int, right_super: bool, right_sub: bool) -> int:
    diag_len = min(m + min(0, d), n - max(0, d))
    right = right_super if d >= 0 else right_sub
    return length - diag_len if right else 0


def _diag_k(k: np.ndarray) -> tuple[int, int]:
    ks = int_list(k, "k")
    lo, hi = (ks[0], ks[0]) if len(ks) == 1 else (ks[0], ks[1])
    if lo > hi:
        fail(f"lower diagonal index must not be greater than upper: {lo} > {hi}")
    return lo, hi


@kernel_factory("MatrixDiagPartV3", "MatrixDiagPartV2", family="array", dtypes=ALL)
def _matrix_diag_part_v3(node: NodeSpec) -> Any:
    right_super, right_sub = _diag_align(node) if node.op == "MatrixDiagPartV3" else (False, False)

    def run(ctx: Any, x: np.ndarray, k: np.ndarray, pad: np.ndarray) -> np.ndarray:
        lo, hi = _diag_k(k)
        m, n = x.shape[-2:]
        if not (-m < lo <= n and -m < hi <= n) and (m and n):
            fail(f"diagonal index out of range: ({lo}, {hi}) for a {m}x{n} matrix")
        length = min(m + min(0, hi), n - max(0, lo))
        length = max(max(min(m + min(0, d), n - max(0, d)) for d in range(lo, hi + 1)), 0)
        diags = []
        for d in range(hi, lo - 1, -1):
            row = np.full(x.shape[:-2] + (length,), pad[()], dtype=x.dtype)
            dl = min(m + min(0, d), n - max(0, d))
            off = _diag_offset(d, m, n, length, right_super, right_sub)
            if dl > 0:
                vals = np.diagonal(x, offset=d, axis1=-2, axis2=-1)
                row[..., off : off + dl] = vals
            diags.append(row)
        if lo == hi:
            return diags[0]
        return np.stack(diags, axis=-2)

    return run


@kernel("MatrixDiagPart", family="array", dtypes=ALL)
def _matrix_diag_part(ctx: Any, x: np.ndarray) -> np.ndarray:
    return np.array(np.diagonal(x, axis1=-2, axis2=-1))


def _fill_diagonals(
    out: np.ndarray, diag: np.ndarray, lo: int, hi: int, right_super: bool, right_sub: bool
) -> np.ndarray:
    """Write diag[..., idx, :] (idx 0 = diagonal `hi`) onto `out`'s diagonals lo..hi, honouring the
    alignment; diagonal elements with no source value are left as they are."""
    m, n = out.shape[-2:]
    length = diag.shape[-1]
    for idx, d in enumerate(range(hi, lo - 1, -1)):
        dl = min(m + min(0, d), n - max(0, d))
        if dl <= 0:
            continue
        off = _diag_offset(d, m, n, length, right_super, right_sub)
        t = np.arange(dl)
        src = t + off
        ok = (src >= 0) & (src < length)
        r0, c0 = max(0, -d), max(0, d)
        out[..., t[ok] + r0, t[ok] + c0] = diag[..., idx, src[ok]]
    return out


@kernel_factory("MatrixDiagV3", "MatrixDiagV2", family="array", dtypes=ALL)
def _matrix_diag_v3(node: NodeSpec) -> Any:
    right_super, right_sub = _diag_align(node) if node.op == "MatrixDiagV3" else (False, False)

    def run(
        ctx: Any, diag: np.ndarray, k: np.ndarray, rows: np.ndarray, cols: np.ndarray, pad: np.ndarray
    ) -> np.ndarray:
        lo, hi = _diag_k(k)
        length = diag.shape[-1]
        num_rows, num_cols = scalar_int(rows), scalar_int(cols)
        min_rows = length - min(hi, 0)
        min_cols = length + max(lo, 0)
        if num_rows == -1 and num_cols == -1:
            num_rows = num_cols = max(min_rows, min_cols)
        elif num_rows == -1:
            num_rows = min_rows
        elif num_cols == -1:
            num_cols = min_cols
        if num_rows != min_rows and num_cols != min_cols:
            fail(
                f"The number of rows or columns is not consistent with the specified d_lower, d_upper, "
                f"and diagonal: {num_rows}x{num_cols}"
            )
        if lo == hi:
            diag = diag[..., None, :]
        batch = diag.shape[:-2]
        out = np.full(batch + (num_rows, num_cols), pad[()], dtype=diag.dtype)
        return _fill_diagonals(out, diag, lo, hi, right_super, right_sub)

    return run


@kernel("MatrixDiag", family="array", dtypes=ALL)
def _matrix_diag(ctx: Any, diag: np.ndarray) -> np.ndarray:
    n = diag.shape[-1]
    out = np.zeros(diag.shape + (n,), dtype=diag.dtype)
    out[..., np.arange(n), np.arange(n)] = diag
    return out


@kernel_factory("MatrixSetDiagV3", "MatrixSetDiagV2", family="array", dtypes=ALL)
def _matrix_set_diag_v3(node: NodeSpec) -> Any:
    right_super, right_sub = _diag_align(node) if node.op == "MatrixSetDiagV3" else (False, False)

    def run(ctx: Any, x: np.ndarray, diag: np.ndarray, k: np.ndarray) -> np.ndarray:
        lo, hi = _diag_k(k)
        if lo == hi:
            diag = diag[..., None, :]
        return _fill_diagonals(x.copy(), diag, lo, hi, right_super, right_sub)

    return run


@kernel("MatrixSetDiag", family="array", dtypes=ALL)
def _matrix_set_diag(ctx: Any, x: np.ndarray, diag: np.ndarray) -> np.ndarray:
    out = x.copy()
    k = min(x.shape[-2:])
    out[..., np.arange(k), np.arange(k)] = diag
    return out


# --------------------------------------------------------------------------- patches, counting


@kernel_factory("ExtractImagePatches", family="array", dtypes=ALL)
def _extract_image_patches(node: NodeSpec) -> Any:
    ks = [int(v) for v in node.attrs["ksizes"]][1:3]
    strides = [int(v) for v in node.attrs["strides"]][1:3]
    rates = [int(v) for v in node.attrs["rates"]][1:3]
    padding = node.attrs["padding"]
    padding = padding.decode() if isinstance(padding, bytes) else padding

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        from savedmodel.ops.nn import _out_and_pads, _pad_spatial, _windows

        outs, pads = [], []
        for i in range(2):
            o, b_, a_ = _out_and_pads(x.shape[1 + i], ks[i], strides[i], rates[i], padding)
            outs.append(o)
            pads.append((b_, a_))
        n, c = x.shape[0], x.shape[-1]
        if n == 0 or 0 in outs:
            return np.zeros((n, *outs, ks[0] * ks[1] * c), dtype=x.dtype)
        win = _windows(_pad_spatial(x, pads), ks, strides, rates, outs)  # [N,OH,OW,C,KH,KW]
        return contiguous(np.moveaxis(win, 3, -1).reshape(n, outs[0], outs[1], -1))

    return run


@kernel("Bincount", family="array", dtypes=("int32", "int64", "float32", "float64"))
def _bincount(ctx: Any, arr: np.ndarray, size: np.ndarray, weights: np.ndarray) -> np.ndarray:
    n = scalar_int(size, "size")
    if n < 0:
        fail(f"size ({n}) must be non-negative")
    values = arr.reshape(-1)
    keep = (values >= 0) & (values < n)
    if weights.size:
        return np.bincount(values[keep], weights=weights.reshape(-1)[keep], minlength=n)[:n].astype(
            weights.dtype
        )
    return np.bincount(values[keep], minlength=n)[:n].astype(weights.dtype)


@kernel_factory("DenseBincount", family="array", dtypes=("int32", "int64", "float32", "float64"))
def _dense_bincount(node: NodeSpec) -> Any:
    binary = bool(node.attrs.get("binary_output", False))

    def run(ctx: Any, x: np.ndarray, size: np.ndarray, weights: np.ndarray) -> np.ndarray:
        n = scalar_int(size, "size")
        if n < 0:
            fail(f"size ({n}) must be non-negative")
        if x.size and x.min() < 0:
            fail("Input arr must be non-negative!")

        def count(row: np.ndarray, w: np.ndarray | None) -> np.ndarray:
            keep = row < n
            if binary:
                out = np.zeros(n, dtype=weights.dtype)
                out[row[keep]] = 1
                return out
            if w is not None:
                return np.bincount(row[keep], weights=w[keep], minlength=n)[:n].astype(weights.dtype)
            return np.bincount(row[keep], minlength=n)[:n].astype(weights.dtype)

        if x.ndim <= 1:
            return count(x.reshape(-1), weights.reshape(-1) if weights.size else None)
        return (
            np.stack([count(x[i], weights[i] if weights.size else None) for i in range(x.shape[0])])
            if x.shape[0]
            else np.zeros((0, n), weights.dtype)
        )

    return run


@kernel_factory("HistogramFixedWidth", family="array", dtypes=("int32", "int64", "float32", "float64"))
def _histogram_fixed_width(node: NodeSpec) -> Any:
    out = node.attrs.dtype("dtype", tfdtypes.DT.DT_INT32)

    def run(ctx: Any, values: np.ndarray, value_range: np.ndarray, nbins: np.ndarray) -> np.ndarray:
        n = scalar_int(nbins, "nbins")
        if n <= 0:
            fail(f"nbins should be a positive number, but got '{n}'")
        lo, hi = float(value_range[0]), float(value_range[1])
        if lo >= hi:
            fail(f"value_range should satisfy value_range[0] < value_range[1], but got '[{lo}, {hi}]'")
        v = values.reshape(-1).astype(np.float64)
        idx = np.clip(np.floor((v - lo) / (hi - lo) * n), 0, n - 1).astype(np.int64)
        return np.bincount(idx, minlength=n).astype(out)

    return run


# --------------------------------------------------------------------------- stitch / partition


def _dynamic_stitch(ctx: Any, *args: np.ndarray) -> np.ndarray:
    n = len(args) // 2
    indices, data = args[:n], args[n:]
    inner = None
    top = -1
    for i, (idx, d) in enumerate(zip(indices, data, strict=True)):
        if d.shape[: idx.ndim] != idx.shape:
            fail(
                f"data[{i}].shape = {shape_str(d.shape)} does not start with indices[{i}].shape = "
                f"{shape_str(idx.shape)}"
            )
        rest = d.shape[idx.ndim :]
        if inner is None:
            inner = rest
        elif rest != inner:
            fail(
                f"Need data[0].shape[1:] = data[{i}].shape[{idx.ndim}:], got {shape_str(inner)} vs "
                f"{shape_str(rest)}"
            )
        if idx.size:
            if idx.min() < 0:
                fail(f"indices[{i}] has a negative index: {int(idx.min())}")
            top = max(top, int(idx.max()))
    inner = inner or ()
    out = np.zeros((top + 1,) + inner, dtype=data[0].dtype)
    if out.dtype.kind == "O":
        out[...] = b""
    for idx, d in zip(indices, data, strict=True):
        if idx.size:
            out[idx.reshape(-1)] = d.reshape((-1,) + inner)
    return out


kernel("DynamicStitch", "ParallelDynamicStitch", family="array", dtypes=ALL)(_dynamic_stitch)


@kernel_factory("DynamicPartition", family="array", dtypes=ALL)
def _dynamic_partition(node: NodeSpec) -> Any:
    num = int(node.attrs["num_partitions"])

    def run(ctx: Any, data: np.ndarray, partitions: np.ndarray) -> list[np.ndarray]:
        if data.shape[: partitions.ndim] != partitions.shape:
            fail(
                f"data.shape must start with partitions.shape, got data.shape = {shape_str(data.shape)}, "
                f"partitions.shape = {shape_str(partitions.shape)}"
            )
        flat_p = partitions.reshape(-1)
        if flat_p.size and (flat_p.min() < 0 or flat_p.max() >= num):
            bad = int(np.nonzero((flat_p < 0) | (flat_p >= num))[0][0])
            fail(f"partitions[{bad}] = {int(flat_p[bad])} is not in [0, {num})")
        rows = data.reshape((-1,) + data.shape[partitions.ndim :])
        return [np.asarray(rows[flat_p == k], dtype=data.dtype) for k in range(num)]

    return run


# --------------------------------------------------------------------------- ragged


def _ragged_coordinates(
    partitions: list[tuple[str, np.ndarray]], nvals: int, first_dim: int | None
) -> tuple[list[np.ndarray], list[int]]:
    """Per value, its index along each ragged dimension; and each dimension's natural size."""
    coords: list[np.ndarray] = []
    sizes: list[int] = []
    parent_coords: list[np.ndarray] | None = None
    for kind, tensor in partitions:
        t = tensor.astype(np.int64).reshape(-1)
        if kind == "ROW_SPLITS":
            nrows = t.size - 1
            lengths = np.diff(t)
            if t.size and (t[0] != 0 or np.any(lengths < 0)):
                fail("Invalid row_splits: must start at 0 and be non-decreasing")
            rowids = np.repeat(np.arange(nrows), lengths)
            starts = t[:-1]
        elif kind == "VALUE_ROWIDS":
            nrows = (
                first_dim
                if parent_coords is None and first_dim is not None
                else (coords[-1].size if coords else int(t.max()) + 1 if t.size else 0)
            )
            rowids = t
            if t.size and np.any(np.diff(t) < 0):
                fail("value_rowids must be sorted")
            starts = np.searchsorted(t, np.arange(nrows))
            lengths = np.bincount(t, minlength=nrows)[:nrows] if t.size else np.zeros(nrows, np.int64)
        else:
            fail(f"unsupported row partition type {kind}")
        pos = np.arange(rowids.size) - starts[rowids] if rowids.size else np.zeros(0, np.int64)
        if parent_coords is None:
            sizes.append(nrows)
            new = [rowids]
        else:
            new = [c[rowids] for c in parent_coords]
        sizes.append(int(lengths.max()) if lengths.size else 0)
        parent_coords = new + [pos]
        coords = parent_coords
    if parent_coords is not None and parent_coords[0].size != nvals:
        fail(f"Ragged partitions describe {parent_coords[0].size} values but values has {nvals}")
    return coords, sizes


@kernel_factory("RaggedTensorToTensor", family="array", dtypes=ALL)
def _ragged_to_tensor(node: NodeSpec) -> Any:
    types = [t.decode() if isinstance(t, bytes) else t for t in node.attrs["row_partition_types"]]

    def run(
        ctx: Any, shape: np.ndarray, values: np.ndarray, default: np.ndarray, *partitions: np.ndarray
    ) -> np.ndarray:
        first_dim = None
        parts = list(zip(types, partitions, strict=True))
        if parts and parts[0][0] == "FIRST_DIM_SIZE":
            first_dim = int(np.asarray(parts[0][1]).reshape(-1)[0])
            parts = parts[1:]
        coords, sizes = _ragged_coordinates(parts, values.shape[0], first_dim)
        inner = values.shape[1:]
        natural = sizes + list(inner)
        requested = int_list(shape) if np.ndim(shape) == 1 else []
        dims = (
            [r if r >= 0 else n for r, n in zip(requested, natural, strict=False)] if requested else natural
        )
        out = np.empty(dims, dtype=values.dtype)
        out[...] = np.broadcast_to(default, dims[len(sizes) :]) if np.ndim(default) else default[()]
        keep = np.ones(values.shape[0], dtype=bool)
        for c, d in zip(coords, dims, strict=False):
            keep &= c < d
        target = tuple(c[keep] for c in coords)
        vals = values[keep]
        crop = tuple(slice(0, d) for d in dims[len(sizes) :])
        out[target] = vals[(slice(None),) + crop] if inner else vals
        return out

    return run


@kernel_factory("RaggedRange", family="array", dtypes=("int32", "int64", "float32", "float64"))
def _ragged_range(node: NodeSpec) -> Any:
    split_type = node.attrs.dtype("Tsplits", tfdtypes.DT.DT_INT64)

    def run(ctx: Any, starts: np.ndarray, limits: np.ndarray, deltas: np.ndarray) -> list[np.ndarray]:
        s_, l_, d_ = np.broadcast_arrays(starts, limits, deltas)
        rows = []
        for s0, l0, d0 in zip(s_.reshape(-1), l_.reshape(-1), d_.reshape(-1), strict=True):
            if d0 == 0:
                fail("Requires delta != 0")
            n = (
                int(np.ceil((float(l0) - float(s0)) / float(d0)))
                if starts.dtype.kind == "f"
                else max(0, -(-(int(l0) - int(s0)) // int(d0)))
            )
            n = max(n, 0)
            rows.append((s0 + np.arange(n) * d0).astype(starts.dtype))
        splits = np.cumsum([0] + [len(r) for r in rows]).astype(split_type)
        vals = np.concatenate(rows) if rows else np.zeros(0, starts.dtype)
        return [splits, vals.astype(starts.dtype)]

    return run


@kernel("RaggedTensorToSparse", family="array", dtypes=ALL)
def _ragged_to_sparse(ctx: Any, *args: np.ndarray) -> list[np.ndarray]:
    splits, values = args[:-1], args[-1]
    coords, sizes = _ragged_coordinates([("ROW_SPLITS", s_) for s_ in splits], values.shape[0], None)
    inner = values.shape[1:]
    if inner:
        extra = np.array(list(np.ndindex(*inner)), dtype=np.int64)
        base = np.stack(coords, axis=1) if coords else np.zeros((values.shape[0], 0), np.int64)
        idx = np.concatenate(
            [np.repeat(base, len(extra), axis=0), np.tile(extra, (values.shape[0], 1))], axis=1
        )
        vals = values.reshape(-1)
    else:
        idx = np.stack(coords, axis=1) if coords else np.zeros((values.shape[0], 0), np.int64)
        vals = values
    return [idx.astype(np.int64), vals, np.array(sizes + list(inner), dtype=np.int64)]


@kernel_factory("RaggedBincount", family="array", dtypes=("int32", "int64"))
def _ragged_bincount(node: NodeSpec) -> Any:
    binary = bool(node.attrs.get("binary_output", False))

    def run(
        ctx: Any, splits: np.ndarray, values: np.ndarray, size: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        n = scalar_int(size, "size")
        if n < 0:
            fail(f"size ({n}) must be non-negative")
        if values.size and values.min() < 0:
            fail("Input must be non-negative")
        sp = splits.astype(np.int64)
        rows = max(sp.size - 1, 0)
        out = np.zeros((rows, n), dtype=weights.dtype)
        for r in range(rows):
            v = values[sp[r] : sp[r + 1]]
            keep = v < n
            if binary:
                out[r, v[keep]] = 1
            elif weights.size:
                np.add.at(out[r], v[keep], weights[sp[r] : sp[r + 1]][keep])
            else:
                np.add.at(out[r], v[keep], 1)
        return out

    return run


@kernel_factory("RaggedGather", family="array", dtypes=ALL)
def _ragged_gather(node: NodeSpec) -> Any:
    params_rank = int(node.attrs.get("PARAMS_RAGGED_RANK", 1))

    def run(ctx: Any, *args: np.ndarray) -> list[np.ndarray]:
        splits = [s_.astype(np.int64) for s_ in args[:params_rank]]
        values, indices = args[params_rank], args[params_rank + 1]
        split_type = args[0].dtype
        nrows = splits[0].size - 1
        flat = indices.reshape(-1).astype(np.int64)
        if flat.size and (flat.min() < 0 or flat.max() >= nrows):
            bad = int(np.nonzero((flat < 0) | (flat >= nrows))[0][0])
            fail(f"indices[{bad}] = {int(flat[bad])} is not in [0, {nrows})")
        out_splits: list[np.ndarray] = []
        for d in range(indices.ndim - 1):  # uniform row partitions from the indices' own shape
            width = indices.shape[d + 1]
            count = int(np.prod(indices.shape[: d + 1]))
            out_splits.append((np.arange(count + 1) * width).astype(split_type))
        rows = flat
        for sp in splits:
            lengths = sp[rows + 1] - sp[rows]
            out_splits.append(np.concatenate([[0], np.cumsum(lengths)]).astype(split_type))
            rows = (
                np.concatenate([np.arange(sp[r], sp[r + 1]) for r in rows]).astype(np.int64)
                if rows.size
                else np.zeros(0, np.int64)
            )
        return [*out_splits, np.asarray(values[rows], dtype=values.dtype)]

    return run
