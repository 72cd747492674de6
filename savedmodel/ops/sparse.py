"""Sparse tensor ops, on SparseTensor components (indices [N, rank] int64, values [N], dense_shape)."""

from __future__ import annotations

from typing import Any

import numpy as np

from savedmodel.format.farmhash import fingerprint64
from savedmodel.format.fingerprint import fingerprint_cat64
from savedmodel.ops._common import (
    NUMERIC,
    as_dtype,
    fail,
    int_list,
    reduction_axes,
    shape_str,
    upcast,
)
from savedmodel.ops.math import segment_reduce
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory
from savedmodel.policy import check_tensor_bytes, limits_of

ALL = ("all",)


def _check_sparse(indices: np.ndarray, values: np.ndarray, shape: np.ndarray) -> None:
    if indices.ndim != 2 or values.ndim != 1 or shape.ndim != 1:
        fail(
            f"Input indices should be a matrix, values a vector and shape a vector: "
            f"{shape_str(indices.shape)}, {shape_str(values.shape)}, {shape_str(shape.shape)}"
        )
    if indices.shape[0] != values.shape[0] or indices.shape[1] != shape.shape[0]:
        fail(
            f"Number of indices and values/rank must match: {shape_str(indices.shape)}, "
            f"{shape_str(values.shape)}, {shape_str(shape.shape)}"
        )


def _check_bounds(indices: np.ndarray, dims: list[int]) -> None:
    for i, row in enumerate(indices):
        if any(v < 0 or v >= d for v, d in zip(row, dims, strict=True)):
            fail(
                f"indices[{i}] = [{','.join(str(int(v)) for v in row)}] is out of bounds: need 0 <= index < "
                f"[{','.join(str(d) for d in dims)}]"
            )


@kernel_factory("SparseToDense", family="sparse", dtypes=ALL)
def _sparse_to_dense(node: NodeSpec) -> Any:
    validate = bool(node.attrs.get("validate_indices", True))

    def run(
        ctx: Any, indices: np.ndarray, output_shape: np.ndarray, values: np.ndarray, default: np.ndarray
    ) -> np.ndarray:
        dims = int_list(output_shape, "output_shape")
        if all(d >= 0 for d in dims):
            check_tensor_bytes(dims, values.dtype.itemsize, "SparseToDense", limits_of(ctx))
        idx = indices.reshape(-1, 1) if indices.ndim <= 1 and len(dims) == 1 else indices
        if idx.ndim == 0:
            idx = idx.reshape(1, 1)
        n = idx.shape[0]
        vals = np.broadcast_to(values, (n,)) if values.ndim == 0 else values
        if vals.shape != (n,):
            fail(f"sparse_values has incorrect shape {shape_str(values.shape)}, should be [] or [{n}]")
        _check_bounds(idx, dims)
        if validate and n > 1:
            flat = np.ravel_multi_index(idx.T, dims) if dims else np.zeros(n, np.int64)
            if np.any(np.diff(flat) <= 0):
                k = int(np.nonzero(np.diff(flat) <= 0)[0][0]) + 1
                what = "repeated" if flat[k] == flat[k - 1] else "out of order"
                fail(f"indices[{k}] = [{','.join(str(int(v)) for v in idx[k])}] is {what}")
        out = np.full(dims, default[()], dtype=values.dtype)
        if n:
            out[tuple(idx.T)] = vals
        return out

    return run


@kernel_factory("SparseTensorDenseMatMul", family="sparse", dtypes=NUMERIC)
def _sparse_dense_matmul(node: NodeSpec) -> Any:
    adj_a = bool(node.attrs.get("adjoint_a", False))
    adj_b = bool(node.attrs.get("adjoint_b", False))

    def run(
        ctx: Any, a_indices: np.ndarray, a_values: np.ndarray, a_shape: np.ndarray, b: np.ndarray
    ) -> np.ndarray:
        rows, cols = int_list(a_shape, "a_shape")
        bm = np.conj(b.T) if adj_b else b
        idx = a_indices.astype(np.int64)
        r, c = (idx[:, 1], idx[:, 0]) if adj_a else (idx[:, 0], idx[:, 1])
        out_rows, inner = (cols, rows) if adj_a else (rows, cols)
        if bm.shape[0] != inner:
            fail(f"Cannot multiply A and B because inner dimension does not match: {inner} vs. {bm.shape[0]}")
        if idx.size and (r.max() >= out_rows or c.max() >= inner or idx.min() < 0):
            fail("k (or row) from index is out of range")
        vals = np.conj(a_values) if adj_a else a_values
        out = np.zeros((out_rows, bm.shape[1]), dtype=np.result_type(upcast(a_values), upcast(b)))
        np.add.at(out, r, upcast(vals)[:, None] * upcast(bm)[c])
        return as_dtype(out, b.dtype)

    return run


@kernel("SparseReshape", family="sparse", dtypes=("int64",))
def _sparse_reshape(
    ctx: Any, indices: np.ndarray, shape: np.ndarray, new_shape: np.ndarray
) -> list[np.ndarray]:
    dims = int_list(shape)
    target = int_list(new_shape)
    total = int(np.prod(dims)) if dims else 1
    unknown = [i for i, d in enumerate(target) if d == -1]
    if len(unknown) > 1:
        fail(f"only one output dimension may be -1, not both {unknown[0]} and {unknown[1]}")
    known = int(np.prod([d for d in target if d != -1])) if target else 1
    if unknown:
        if known == 0 or total % known:
            fail(
                f"Input to reshape is a SparseTensor with {total} dense values, but the requested shape "
                f"requires a multiple of {known}"
            )
        target[unknown[0]] = total // known
    if int(np.prod(target)) != total:
        fail(
            f"Input to reshape is a tensor with {total} dense values, but the requested shape has "
            f"{int(np.prod(target))}"
        )
    if indices.shape[0] == 0:
        return [np.zeros((0, len(target)), np.int64), np.array(target, np.int64)]
    flat = (
        np.ravel_multi_index(indices.T.astype(np.int64), dims)
        if dims
        else np.zeros(indices.shape[0], np.int64)
    )
    out = (
        np.stack(np.unravel_index(flat, target), axis=1).astype(np.int64)
        if target
        else np.zeros((indices.shape[0], 0), np.int64)
    )
    return [out, np.array(target, np.int64)]


@kernel("SparseFillEmptyRows", family="sparse", dtypes=ALL)
def _sparse_fill_empty_rows(
    ctx: Any, indices: np.ndarray, values: np.ndarray, dense_shape: np.ndarray, default: np.ndarray
) -> list[np.ndarray]:
    _check_sparse(indices, values, dense_shape)
    dims = int_list(dense_shape)
    rows = dims[0]
    if indices.size and (indices[:, 0].min() < 0 or indices[:, 0].max() >= rows):
        fail("indices out of range for the dense shape")
    counts = np.bincount(indices[:, 0].astype(np.int64), minlength=rows) if rows else np.zeros(0, np.int64)
    empty = counts == 0
    extra_rows = np.nonzero(empty)[0]
    extra_idx = np.zeros((len(extra_rows), len(dims)), dtype=np.int64)
    extra_idx[:, 0] = extra_rows
    all_idx = np.concatenate([indices.astype(np.int64), extra_idx])
    all_vals = np.concatenate([values, np.full(len(extra_rows), default[()], dtype=values.dtype)])
    # rows in order; within a row TensorFlow keeps the input order (stable sort by row)
    order = np.argsort(all_idx[:, 0], kind="stable")
    out_idx, out_vals = all_idx[order], all_vals[order]
    reverse = np.empty(indices.shape[0], dtype=np.int64)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    reverse[:] = inverse[: indices.shape[0]]
    return [out_idx, out_vals, empty, reverse]


def _sparse_segment(kind: str, with_num: bool) -> Any:
    def run(
        ctx: Any, data: np.ndarray, indices: np.ndarray, segment_ids: np.ndarray, *num: np.ndarray
    ) -> np.ndarray:
        if indices.shape != segment_ids.shape or indices.ndim != 1:
            fail(
                f"segment_ids and indices should have same size: {shape_str(indices.shape)} vs "
                f"{shape_str(segment_ids.shape)}"
            )
        if indices.size and (indices.min() < 0 or indices.max() >= data.shape[0]):
            bad = int(np.nonzero((indices < 0) | (indices >= data.shape[0]))[0][0])
            fail(f"Bad: indices[{bad}] == {int(indices[bad])} out of range [0, {data.shape[0]})")
        if with_num:
            n = int(np.asarray(num[0]).reshape(-1)[0])
        else:
            if segment_ids.size and np.any(np.diff(segment_ids) < 0):
                fail("segment ids are not increasing")
            n = int(segment_ids[-1]) + 1 if segment_ids.size else 0
        if segment_ids.size and segment_ids.max() >= n:
            fail(f"segment ids must be < num_segments ({n})")
        rows = data[indices.astype(np.int64)]
        if kind == "sqrtn":
            total = segment_reduce(rows, segment_ids, n, "sum", "zero")
            counts = np.bincount(segment_ids.astype(np.int64), minlength=n)[:n].astype(np.float64)
            scale = np.where(counts > 0, 1 / np.sqrt(np.maximum(counts, 1)), 0)
            return as_dtype(
                upcast(total) * scale.reshape((-1,) + (1,) * (data.ndim - 1)).astype(upcast(total).dtype),
                data.dtype,
            )
        return segment_reduce(rows, segment_ids, n, kind, "zero")

    return run


for _kind, _name in (("sum", "Sum"), ("mean", "Mean"), ("sqrtn", "SqrtN")):
    kernel(
        f"SparseSegment{_name}",
        family="sparse",
        dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64"),
    )(_sparse_segment(_kind, False))
    kernel(
        f"SparseSegment{_name}WithNumSegments",
        family="sparse",
        dtypes=("float32", "float64", "float16", "bfloat16", "int32", "int64"),
    )(_sparse_segment(_kind, True))


def _sparse_segment_grad(kind: str) -> Any:
    """The gradient of SparseSegment{Sum,Mean,SqrtN}: each segment's gradient row, scaled by 1, 1/n
    or 1/sqrt(n) for a segment of n rows, added to the data rows its indices picked."""

    def run(
        ctx: Any, grad: np.ndarray, indices: np.ndarray, segment_ids: np.ndarray, output_dim0: np.ndarray
    ) -> np.ndarray:
        if indices.shape != segment_ids.shape or indices.ndim != 1 or grad.ndim < 1:
            fail(
                f"segment_ids and indices should be vectors of the same size: {shape_str(indices.shape)} vs "
                f"{shape_str(segment_ids.shape)}"
            )
        rows = int(np.asarray(output_dim0).reshape(-1)[0])
        ids = segment_ids.astype(np.int64)
        idx = indices.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= grad.shape[0]):
            fail(f"Segment id out of range [0, {grad.shape[0]})")
        if idx.size and (idx.min() < 0 or idx.max() >= rows):
            bad = int(np.nonzero((idx < 0) | (idx >= rows))[0][0])
            fail(f"Index {int(idx[bad])} out of range [0, {rows})")
        g = upcast(grad)
        counts = np.bincount(ids, minlength=grad.shape[0]).astype(g.dtype)
        if kind == "mean":
            scale = 1 / np.maximum(counts, 1)
        elif kind == "sqrtn":
            scale = 1 / np.sqrt(np.maximum(counts, 1))
        else:
            scale = np.ones_like(counts)
        picked = g[ids] * scale[ids].reshape((-1,) + (1,) * (grad.ndim - 1))
        out = np.zeros((rows,) + grad.shape[1:], dtype=g.dtype)
        np.add.at(out, idx, picked)
        return as_dtype(out, grad.dtype)

    return run


for _kind, _name in (("sum", "Sum"), ("mean", "Mean"), ("sqrtn", "SqrtN")):
    kernel(
        f"SparseSegment{_name}Grad", family="sparse", dtypes=("float32", "float64", "float16", "bfloat16")
    )(_sparse_segment_grad(_kind))


def _sparse_reduce(kind: str, output_sparse: bool) -> Any:
    """Reduce only the stored values (implicit zeros are not counted); groups with no stored value
    give 0 (dense output) or are left out (sparse output)."""

    def prepare(node: NodeSpec) -> Any:
        keep = bool(node.attrs.get("keep_dims", False))

        def run(
            ctx: Any, indices: np.ndarray, values: np.ndarray, shape: np.ndarray, axes: np.ndarray
        ) -> Any:
            _check_sparse(indices, values, shape)
            dims = int_list(shape)
            _check_bounds(indices, dims)
            ax = reduction_axes(axes, len(dims)) if np.size(axes) else tuple(range(len(dims)))
            out_dims = [1 if i in ax else d for i, d in enumerate(dims)]
            kept = [i for i in range(len(dims)) if i not in ax]
            target = indices.astype(np.int64).copy()
            target[:, list(ax)] = 0
            flat = np.ravel_multi_index(target.T, out_dims) if target.size else np.zeros(0, np.int64)
            size = int(np.prod(out_dims)) if out_dims else 1
            if kind == "sum":
                out = np.zeros(size, dtype=values.dtype)
                np.add.at(out, flat, values)
            else:
                low = np.finfo(values.dtype).min if values.dtype.kind == "f" else np.iinfo(values.dtype).min
                out = np.full(size, low, dtype=values.dtype)
                np.maximum.at(out, flat, values)
            present = np.zeros(size, dtype=bool)
            present[flat] = True
            out[~present] = 0
            final_dims = out_dims if keep else [dims[i] for i in kept]
            if not output_sparse:
                return out.reshape(final_dims)
            where = np.nonzero(present)[0]
            coords = (
                np.stack(np.unravel_index(where, out_dims), axis=1) if out_dims else np.zeros((len(where), 0))
            )
            if not keep:
                coords = coords[:, kept]
            return [
                coords.astype(np.int64).reshape(len(where), len(final_dims)),
                out[where],
                np.array(final_dims, dtype=np.int64),
            ]

        return run

    return prepare


kernel_factory("SparseReduceSum", family="sparse", dtypes=NUMERIC)(_sparse_reduce("sum", False))
kernel_factory("SparseReduceMax", family="sparse", dtypes=NUMERIC)(_sparse_reduce("max", False))
kernel_factory("SparseReduceSumSparse", family="sparse", dtypes=NUMERIC)(_sparse_reduce("sum", True))


@kernel("SparseReorder", family="sparse", dtypes=ALL)
def _sparse_reorder(ctx: Any, indices: np.ndarray, values: np.ndarray, shape: np.ndarray) -> list[np.ndarray]:
    _check_sparse(indices, values, shape)
    dims = int_list(shape)
    _check_bounds(indices, dims)
    if indices.shape[0] == 0:
        return [indices, values]
    order = np.lexsort(indices.T[::-1])
    return [indices[order], values[order]]


def _sparse_dense_cwise(fn: Any) -> Any:
    def run(
        ctx: Any, indices: np.ndarray, values: np.ndarray, shape: np.ndarray, dense: np.ndarray
    ) -> np.ndarray:
        _check_sparse(indices, values, shape)
        dims = int_list(shape)
        try:
            full = np.broadcast_to(dense, dims)
        except ValueError:
            fail(
                f"SparseDenseBinaryOpShared broadcasts dense to sparse only; got incompatible shapes: "
                f"{shape_str(dense.shape)} vs. {shape_str(dims)}"
            )
        picked = full[tuple(indices.T)] if indices.size else np.zeros(0, dense.dtype)
        with np.errstate(all="ignore"):
            return as_dtype(fn(upcast(values), upcast(picked)), values.dtype)

    return run


kernel("SparseDenseCwiseMul", family="sparse", dtypes=NUMERIC)(_sparse_dense_cwise(np.multiply))
kernel("SparseDenseCwiseAdd", family="sparse", dtypes=NUMERIC)(_sparse_dense_cwise(np.add))
kernel("SparseDenseCwiseDiv", family="sparse", dtypes=NUMERIC)(
    _sparse_dense_cwise(lambda a, b: np.floor_divide(a, b) if a.dtype.kind in "iu" else np.true_divide(a, b))
)


@kernel_factory("SparseSlice", family="sparse", dtypes=ALL)
def _sparse_slice(node: NodeSpec) -> Any:
    def run(
        ctx: Any,
        indices: np.ndarray,
        values: np.ndarray,
        shape: np.ndarray,
        start: np.ndarray,
        size: np.ndarray,
    ) -> list[np.ndarray]:
        dims, st, sz = int_list(shape), int_list(start), int_list(size)
        lo = np.array(st, dtype=np.int64)
        hi = np.minimum(lo + np.array(sz, dtype=np.int64), np.array(dims, dtype=np.int64))
        keep = np.all((indices >= lo) & (indices < hi), axis=1) if indices.size else np.zeros(0, bool)
        out_shape = np.maximum(hi - lo, 0)
        return [(indices[keep] - lo).astype(np.int64), values[keep], out_shape.astype(np.int64)]

    return run


@kernel_factory("SparseConcat", family="sparse", dtypes=ALL)
def _sparse_concat(node: NodeSpec) -> Any:
    concat_dim = int(node.attrs["concat_dim"])
    n = int(node.attrs["N"])

    def run(ctx: Any, *args: np.ndarray) -> list[np.ndarray]:
        inds, vals, shapes = args[:n], args[n : 2 * n], args[2 * n :]
        rank = len(shapes[0])
        d = concat_dim + rank if concat_dim < 0 else concat_dim
        offset = 0
        out_i, out_v = [], []
        for i, v, s in zip(inds, vals, shapes, strict=True):
            shifted = i.astype(np.int64).copy()
            shifted[:, d] += offset
            offset += int(s[d])
            out_i.append(shifted)
            out_v.append(v)
        all_i = np.concatenate(out_i)
        all_v = np.concatenate(out_v)
        out_shape = np.array(shapes[0], dtype=np.int64)
        out_shape[d] = offset
        order = np.lexsort(all_i.T[::-1]) if all_i.size else np.arange(0)
        return [all_i[order], all_v[order], out_shape]

    return run


@kernel_factory("SparseAdd", family="sparse", dtypes=NUMERIC)
def _sparse_add(node: NodeSpec) -> Any:
    def run(
        ctx: Any,
        a_i: np.ndarray,
        a_v: np.ndarray,
        a_s: np.ndarray,
        b_i: np.ndarray,
        b_v: np.ndarray,
        b_s: np.ndarray,
        thresh: np.ndarray,
    ) -> list[np.ndarray]:
        if list(a_s) != list(b_s):
            fail(f"Operands do not have the same ranks or shapes: {list(a_s)} vs. {list(b_s)}")
        merged: dict[tuple[int, ...], Any] = {}
        for i, v in zip(a_i.tolist(), a_v.tolist(), strict=True):
            merged[tuple(i)] = merged.get(tuple(i), 0) + v
        for i, v in zip(b_i.tolist(), b_v.tolist(), strict=True):
            merged[tuple(i)] = merged.get(tuple(i), 0) + v
        t = float(thresh)
        keys = sorted(k for k, v in merged.items() if abs(v) >= t)
        idx = np.array(keys, dtype=np.int64).reshape(-1, len(a_s))
        vals = np.array([merged[k] for k in keys], dtype=a_v.dtype)
        return [idx, vals, np.array(a_s, dtype=np.int64)]

    return run


# --------------------------------------------------------------------------- feature crosses


def _cross_columns(
    indices: list[np.ndarray], values: list[np.ndarray], shapes: list[np.ndarray], dense: list[np.ndarray]
) -> tuple[int, list[tuple[list[np.ndarray], ...]]]:
    """Batch size and, per column (sparse inputs first, then dense), the features of each row."""
    if shapes:
        batch = int(np.asarray(shapes[0]).reshape(-1)[0])
    elif dense:
        batch = int(np.asarray(dense[0]).shape[0])
    else:
        fail("Expected at least one input")
    columns = []
    for idx, vals, shape in zip(indices, values, shapes, strict=True):
        idx, vals, shape = np.asarray(idx), np.asarray(vals), np.asarray(shape)
        if idx.ndim != 2 or shape.ndim != 1 or vals.ndim != 1 or idx.shape[0] != vals.shape[0]:
            fail("Input indices, values and shapes must describe a 2-D SparseTensor")
        if int(shape[0]) != batch:
            fail(f"Expected batch size {batch} got {int(shape[0])}")
        counts = (
            np.bincount(idx[:, 0].astype(np.int64), minlength=batch)[:batch]
            if idx.size
            else np.zeros(batch, int)
        )
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if batch else np.zeros(0, int)
        columns.append([vals[int(s) : int(s) + int(c)] for s, c in zip(starts, counts, strict=True)])
    for d in dense:
        d = np.asarray(d)
        if d.ndim != 2:
            fail(f"Dense inputs should be a matrix but received shape {list(d.shape)}")
        if d.shape[0] != batch:
            fail(f"Expected batch size {batch} got {d.shape[0]}")
        columns.append([d[b] for b in range(batch)])
    return batch, columns


def _product(features: list[list[Any]]) -> list[tuple[Any, ...]]:
    """Every combination, the last column varying fastest (TensorFlow's ProductIterator)."""
    out: list[tuple[Any, ...]] = [()]
    for column in features:
        out = [prefix + (f,) for prefix in out for f in column]
    return out


def _as_text(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(int(value)).encode()


def _cross_hash(value: Any) -> int:
    if isinstance(value, bytes):
        return fingerprint64(value)
    return int(value) & 0xFFFFFFFFFFFFFFFF


def _sparse_cross(batch: int, columns: list[Any], combine: Any, out_dtype: Any) -> list[np.ndarray]:
    out_indices: list[tuple[int, int]] = []
    out_values: list[Any] = []
    longest = 0
    for b in range(batch):
        crosses = _product([[v.item() if hasattr(v, "item") else v for v in column[b]] for column in columns])
        for k, cross in enumerate(crosses):
            out_indices.append((b, k))
            out_values.append(combine(cross))
        longest = max(longest, len(crosses))
    values = (
        np.empty(len(out_values), dtype=object) if out_dtype is object else np.asarray(out_values, out_dtype)
    )
    if out_dtype is object:
        values[:] = out_values
    return [
        np.asarray(out_indices, dtype=np.int64).reshape(-1, 2),
        values.reshape(-1),
        np.asarray([batch, longest], dtype=np.int64),
    ]


def _split_cross_inputs(node: NodeSpec, inputs: tuple[Any, ...]) -> tuple[list[Any], ...]:
    n = int(node.attrs.get("N", 0))
    n_dense = len(node.attrs.get("dense_types", []) or [])
    indices, values = list(inputs[:n]), list(inputs[n : 2 * n])
    shapes, dense = list(inputs[2 * n : 3 * n]), list(inputs[3 * n : 3 * n + n_dense])
    return indices, values, shapes, dense, list(inputs[3 * n + n_dense :])


@kernel_factory("SparseCross", family="sparse")
def _sparse_cross_op(node: NodeSpec) -> Any:
    """feature crosses (crossed_column, cross_hashed): strings joined by "_X_" or FingerprintCat64 hashes"""
    hashed = bool(node.attrs.get("hashed_output", False))
    buckets = int(node.attrs.get("num_buckets", 0))
    key = int(node.attrs.get("hash_key", 0)) & 0xFFFFFFFFFFFFFFFF
    internal_string = node.attrs.dtype_enum("internal_type", 7) == 7  # DT_STRING

    def combine_hash(cross: tuple[Any, ...]) -> int:
        h = key
        for f in cross:
            h = fingerprint_cat64(h, _cross_hash(f))
        return h % buckets if buckets > 0 else h % 0x7FFFFFFFFFFFFFFF

    def run(ctx: Any, *inputs: Any) -> list[np.ndarray]:
        indices, values, shapes, dense, _ = _split_cross_inputs(node, inputs)
        batch, columns = _cross_columns(indices, values, shapes, dense)
        if hashed:
            return _sparse_cross(batch, columns, combine_hash, np.int64)
        if internal_string:
            for what, group in (("Input values", values), ("Dense inputs", dense)):
                for t in group:
                    if np.asarray(t).dtype != object:
                        fail(f"{what} should be of internal type 7 but received 9")
        return _sparse_cross(batch, columns, lambda c: b"_X_".join(_as_text(f) for f in c), object)

    return run


@kernel_factory("SparseCrossV2", family="sparse")
def _sparse_cross_v2(node: NodeSpec) -> Any:
    """tf.sparse.cross: the features of each combination joined by `sep`"""

    def run(ctx: Any, *inputs: Any) -> list[np.ndarray]:
        indices, values, shapes, dense, rest = _split_cross_inputs(node, inputs)
        sep = np.asarray(rest[0]).reshape(-1)
        sep_bytes = _as_text(sep[0]) if sep.size else b""
        batch, columns = _cross_columns(indices, values, shapes, dense)
        return _sparse_cross(batch, columns, lambda c: sep_bytes.join(_as_text(f) for f in c), object)

    return run


def _levenshtein(a: list[Any], b: list[Any]) -> int:
    if not a:
        return len(b)
    if not b:
        return len(a)
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
        previous = current
    return previous[-1]


def _sequences(indices: np.ndarray, values: np.ndarray) -> dict[tuple[int, ...], list[Any]]:
    groups: dict[tuple[int, ...], list[Any]] = {}
    order = np.lexsort(indices.T[::-1]) if indices.size else np.zeros(0, dtype=np.int64)
    for k in order.tolist():
        groups.setdefault(tuple(indices[k, :-1].tolist()), []).append(values[k])
    return groups


@kernel_factory("EditDistance", family="sparse")
def _edit_distance(node: NodeSpec) -> Any:
    """Levenshtein distance between the sequences of two SparseTensors (OCR/speech error rates)"""
    normalize = bool(node.attrs.get("normalize", True))

    def run(
        ctx: Any,
        hyp_indices: Any,
        hyp_values: Any,
        hyp_shape: Any,
        truth_indices: Any,
        truth_values: Any,
        truth_shape: Any,
    ) -> np.ndarray:
        hyp_indices, truth_indices = np.asarray(hyp_indices), np.asarray(truth_indices)
        hyp_shape, truth_shape = np.asarray(hyp_shape), np.asarray(truth_shape)
        hyp_values, truth_values = np.asarray(hyp_values).reshape(-1), np.asarray(truth_values).reshape(-1)
        if hyp_shape.ndim != 1 or truth_shape.ndim != 1 or hyp_shape.shape != truth_shape.shape:
            fail(
                "hypothesis_shape and truth_shape should have the same number of elements: "
                f"{hyp_shape.size} vs. {truth_shape.size}"
            )
        rank = hyp_shape.shape[0]
        if rank < 2:
            fail(f"Input SparseTensors must have rank at least 2, but truth_shape rank is: {rank}")
        for what, idx, vals in (
            ("hypothesis", hyp_indices, hyp_values),
            ("truth", truth_indices, truth_values),
        ):
            if idx.ndim != 2 or idx.shape[1] != rank or idx.shape[0] != vals.shape[0]:
                fail(f"{what}_indices should be a matrix with {rank} columns and one row per value")
        out_shape = tuple(int(max(h, t)) for h, t in zip(hyp_shape[:-1], truth_shape[:-1], strict=True))
        out = np.zeros(out_shape, dtype=np.float32)
        hyp = _sequences(hyp_indices, hyp_values.tolist())
        truth = _sequences(truth_indices, truth_values.tolist())
        for group in sorted(set(hyp) | set(truth)):
            if any(g < 0 or g >= d for g, d in zip(group, out_shape, strict=True)):
                fail(
                    f"Got an inner product index {list(group)} outside of the output shape {list(out_shape)}"
                )
            h, t = hyp.get(group), truth.get(group)
            if h is not None and t is not None:
                value = np.float32(_levenshtein(t, h))
                if normalize:
                    value = np.float32(value / np.float32(len(t)))
            elif h is not None:
                value = np.float32(len(h))
                if normalize and value != 0:
                    value = np.float32(np.inf)
            else:
                value = np.float32(1.0 if normalize else len(t))
            out[group] = value
        return out

    return run
