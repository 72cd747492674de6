"""Parsing ops: tf.train.Example protos (ParseExample/V2, ParseSingleExample), raw bytes, CSV,
serialized TensorProtos and compressed strings."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from savedmodel.format import dtypes as tfdtypes
from savedmodel.format import tensor as tensor_format
from savedmodel.ops._common import fail, object_array, shape_str, to_bytes
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory
from savedmodel.policy import with_call_limits
from savedmodel.proto import example_pb2, tensor_pb2

STRING = ("string",)
_KIND_BY_DTYPE = {
    np.dtype(np.float32): "float_list",
    np.dtype(np.int64): "int64_list",
    np.dtype(object): "bytes_list",
}
_TYPE_NAME = {"float_list": "float", "int64_list": "int64", "bytes_list": "string"}


@dataclass
class _Dense:
    key: str
    dtype: np.dtype
    shape: tuple[int, ...]
    default: np.ndarray

    @property
    def variable(self) -> bool:
        return bool(self.shape) and self.shape[0] == -1


def _key_text(value: Any) -> str:
    return to_bytes(value).decode("utf-8", "replace")


def _parse_one(data: bytes, index: int) -> Any:
    try:
        example = example_pb2.Example.FromString(data)
    except DecodeError:
        fail(f"Could not parse example input, value: '{data[:64]!r}'")
    return example.features.feature


def _values(feature: Any, key: str, dtype: np.dtype, index: int) -> np.ndarray | None:
    kind = feature.WhichOneof("kind")
    if kind is None:
        return None
    want = _KIND_BY_DTYPE[dtype]
    if kind != want:
        fail(
            f"Name: <unknown>, Key: {key}, Index: {index}.  Data types don't match. Data type: "
            f"{_TYPE_NAME[kind]} but expected type: {_TYPE_NAME[want]}"
        )
    items = getattr(feature, kind).value
    if dtype.kind == "O":
        return object_array([bytes(v) for v in items])
    return np.asarray(items, dtype=dtype)


def parse_examples(
    serialized: np.ndarray,
    sparse: list[tuple[str, np.dtype]],
    dense: list[_Dense],
    ragged: list[tuple[str, np.dtype, np.dtype]],
) -> list[Any]:
    scalar = serialized.ndim == 0
    if not (sparse or dense or ragged):
        return []  # nothing requested: TensorFlow does not even parse the records
    records = [to_bytes(v) for v in np.asarray(serialized, dtype=object).reshape(-1)]
    features = [_parse_one(r, i) for i, r in enumerate(records)]
    batch = len(records)

    def lookup(i: int, key: str, dtype: np.dtype) -> np.ndarray | None:
        feats = features[i]
        return _values(feats[key], key, dtype, i) if key in feats else None

    sp_idx, sp_val, sp_shape = [], [], []
    for key, dtype in sparse:
        rows = [lookup(i, key, dtype) for i in range(batch)]
        rows = [r if r is not None else np.zeros(0, dtype) for r in rows]
        width = max((len(r) for r in rows), default=0)
        if scalar:
            idx = np.arange(len(rows[0]), dtype=np.int64).reshape(-1, 1)
            shape = [len(rows[0])]
        else:
            idx = np.array([[b, j] for b, r in enumerate(rows) for j in range(len(r))], np.int64).reshape(
                -1, 2
            )
            shape = [batch, width]
        vals = np.concatenate(rows) if rows else np.zeros(0, dtype)
        sp_idx.append(idx)
        sp_val.append(vals.astype(dtype) if dtype.kind != "O" else object_array(list(vals)))
        sp_shape.append(np.array(shape, dtype=np.int64))

    dense_out = []
    for spec in dense:
        dense_out.append(_dense_values(spec, [lookup(i, spec.key, spec.dtype) for i in range(batch)], scalar))

    rg_vals, rg_splits = [], []
    for key, dtype, split_type in ragged:
        rows = [lookup(i, key, dtype) for i in range(batch)]
        rows = [r if r is not None else np.zeros(0, dtype) for r in rows]
        vals = np.concatenate(rows) if rows else np.zeros(0, dtype)
        rg_vals.append(vals if dtype.kind != "O" else object_array(list(vals)))
        splits = np.cumsum([0] + [len(r) for r in rows])
        # A scalar input gives a 1-D ragged feature: its values, and no row splits at all (TF).
        rg_splits.append(splits.astype(split_type) if not scalar else np.zeros(0, split_type))
    return [*sp_idx, *sp_val, *sp_shape, *dense_out, *rg_vals, *rg_splits]


def _dense_values(spec: _Dense, rows: list[np.ndarray | None], scalar: bool) -> np.ndarray:
    if spec.variable:
        inner = spec.shape[1:]
        stride = int(np.prod(inner)) if inner else 1
        shaped = []
        for i, r in enumerate(rows):
            r = r if r is not None else np.zeros(0, spec.dtype)
            if stride and len(r) % stride:
                fail(
                    f"Name: <unknown>, Key: {spec.key}, Index: {i}.  Number of "
                    f"{_TYPE_NAME[_KIND_BY_DTYPE[spec.dtype]]} values is not a multiple of stride length. "
                    f"Saw {len(r)} values but output shape is: "
                    f"{shape_str((-1,) + inner)}"
                )
            shaped.append(r.reshape((-1,) + inner))
        longest = max((s.shape[0] for s in shaped), default=0)
        fill = spec.default.reshape(-1)[0] if spec.default.size else (b"" if spec.dtype.kind == "O" else 0)
        out = np.empty((len(rows), longest) + inner, dtype=spec.dtype)
        out[...] = fill
        for i, s in enumerate(shaped):
            out[i, : s.shape[0]] = s
        return out[0, ...] if scalar else out
    count = int(np.prod(spec.shape)) if spec.shape else 1
    out = np.empty((len(rows),) + spec.shape, dtype=spec.dtype)
    # Rows are written through a (batch, count) view: assigning a 0-d object array into one
    # element of an object array would store the array itself rather than its bytes.
    flat_out = out.reshape(len(rows), count)
    for i, r in enumerate(rows):
        if r is None or (len(r) == 0 and spec.default.size and count):
            if not spec.default.size:
                fail(
                    f"Name: <unknown>, Feature: {spec.key} (data type: "
                    f"{_TYPE_NAME[_KIND_BY_DTYPE[spec.dtype]]}) is required but could not be found."
                )
            flat_out[i] = np.broadcast_to(spec.default, spec.shape).reshape(-1)
            continue
        if len(r) != count:
            fail(
                f"Name: <unknown>, Key: {spec.key}, Index: {i}.  Number of "
                f"{_TYPE_NAME[_KIND_BY_DTYPE[spec.dtype]]} values != expected.  Values size: {len(r)} but "
                f"output shape: {shape_str(spec.shape)}"
            )
        flat_out[i] = r.reshape(-1)
    return out[0, ...] if scalar else out


def _dense_specs(keys: list[str], node: NodeSpec, defaults: tuple[np.ndarray, ...]) -> list[_Dense]:
    types = [tfdtypes.as_numpy_dtype(t) for t in (node.attrs.get("Tdense", []) or [])]
    shapes = node.attrs.get("dense_shapes", []) or []
    specs = []
    for i, key in enumerate(keys):
        shape = tuple(int(d) for d in (shapes[i] if i < len(shapes) and shapes[i] is not None else ()))
        specs.append(_Dense(key, types[i], shape, np.asarray(defaults[i], dtype=types[i])))
    return specs


def _sparse_types(node: NodeSpec) -> list[np.dtype]:
    return [tfdtypes.as_numpy_dtype(t) for t in (node.attrs.get("sparse_types", []) or [])]


def _keys(value: np.ndarray) -> list[str]:
    return [_key_text(v) for v in np.asarray(value, dtype=object).reshape(-1)]


@kernel_factory("ParseExampleV2", family="parsing", dtypes=STRING)
def _parse_example_v2(node: NodeSpec) -> Any:
    sparse_types = _sparse_types(node)
    ragged_types = [tfdtypes.as_numpy_dtype(t) for t in (node.attrs.get("ragged_value_types", []) or [])]
    split_types = [tfdtypes.as_numpy_dtype(t) for t in (node.attrs.get("ragged_split_types", []) or [])]

    def run(
        ctx: Any,
        serialized: np.ndarray,
        names: np.ndarray,
        sparse_keys: np.ndarray,
        dense_keys: np.ndarray,
        ragged_keys: np.ndarray,
        *defaults: np.ndarray,
    ) -> list[Any]:
        if serialized.ndim > 1:
            fail(f"Expected serialized to be a scalar or vector, got shape: {shape_str(serialized.shape)}")
        sparse = list(zip(_keys(sparse_keys), sparse_types, strict=True))
        dense = _dense_specs(_keys(dense_keys), node, defaults)
        ragged = list(zip(_keys(ragged_keys), ragged_types, split_types, strict=True))
        return parse_examples(serialized, sparse, dense, ragged)

    return run


@kernel_factory("ParseExample", family="parsing", dtypes=STRING)
def _parse_example(node: NodeSpec) -> Any:
    n_sparse = int(node.attrs.get("Nsparse", 0))
    n_dense = int(node.attrs.get("Ndense", 0))
    sparse_types = _sparse_types(node)

    def run(ctx: Any, serialized: np.ndarray, names: np.ndarray, *rest: np.ndarray) -> list[Any]:
        sparse_keys = [_key_text(np.asarray(k, dtype=object).reshape(-1)[0]) for k in rest[:n_sparse]]
        dense_keys = [
            _key_text(np.asarray(k, dtype=object).reshape(-1)[0]) for k in rest[n_sparse : n_sparse + n_dense]
        ]
        defaults = rest[n_sparse + n_dense :]
        if serialized.ndim != 1:
            fail(f"Expected serialized to be a vector, got shape: {shape_str(serialized.shape)}")
        dense = _dense_specs(dense_keys, node, defaults)
        return parse_examples(serialized, list(zip(sparse_keys, sparse_types, strict=True)), dense, [])

    return run


@kernel_factory("ParseSingleExample", family="parsing", dtypes=STRING)
def _parse_single_example(node: NodeSpec) -> Any:
    sparse_keys = [_key_text(k) for k in (node.attrs.get("sparse_keys", []) or [])]
    dense_keys = [_key_text(k) for k in (node.attrs.get("dense_keys", []) or [])]
    sparse_types = _sparse_types(node)

    def run(ctx: Any, serialized: np.ndarray, *defaults: np.ndarray) -> list[Any]:
        if serialized.ndim != 0:
            fail(f"Expected serialized to be a scalar, got shape: {shape_str(serialized.shape)}")
        dense = _dense_specs(dense_keys, node, defaults)
        return parse_examples(serialized, list(zip(sparse_keys, sparse_types, strict=True)), dense, [])

    return run


# --------------------------------------------------------------------------- raw bytes


@kernel_factory("DecodeRaw", family="parsing", dtypes=STRING)
def _decode_raw(node: NodeSpec) -> Any:
    out = node.attrs.dtype("out_type")
    little = bool(node.attrs.get("little_endian", True))
    dtype = out.newbyteorder("<" if little else ">") if out.itemsize > 1 else out

    def run(ctx: Any, data: np.ndarray) -> np.ndarray:
        items = [to_bytes(v) for v in np.asarray(data, dtype=object).reshape(-1)]
        if not items:
            return np.zeros(data.shape + (0,), dtype=out)
        width = len(items[0])
        for i, b in enumerate(items):
            if len(b) != width:
                fail(
                    f"DecodeRaw requires input strings to all be the same size, but element {i} has size "
                    f"{len(b)} != {width}"
                )
        if width % out.itemsize:
            fail(
                f"Input to DecodeRaw has length {width} that is not a multiple of {out.itemsize}, the size "
                f"of {out.name}"
            )
        arr = np.frombuffer(b"".join(items), dtype=dtype).astype(out)
        return arr.reshape(data.shape + (width // out.itemsize,))

    return run


@kernel_factory("DecodePaddedRaw", family="parsing", dtypes=STRING)
def _decode_padded_raw(node: NodeSpec) -> Any:
    out = node.attrs.dtype("out_type")
    little = bool(node.attrs.get("little_endian", True))
    dtype = out.newbyteorder("<" if little else ">") if out.itemsize > 1 else out

    def run(ctx: Any, data: np.ndarray, fixed_length: np.ndarray) -> np.ndarray:
        length = int(fixed_length)
        if length % out.itemsize:
            fail(f"fixed_length ({length}) must be a multiple of the size of out_type ({out.itemsize})")
        items = [
            to_bytes(v)[:length].ljust(length, b"\0") for v in np.asarray(data, dtype=object).reshape(-1)
        ]
        arr = np.frombuffer(b"".join(items), dtype=dtype).astype(out) if items else np.zeros(0, out)
        return arr.reshape(data.shape + (length // out.itemsize,))

    return run


@kernel_factory("DecodeCompressed", family="parsing", dtypes=STRING)
def _decode_compressed(node: NodeSpec) -> Any:
    kind = node.attrs.get("compression_type", b"")
    kind = kind.decode() if isinstance(kind, bytes) else kind

    def one(b: bytes) -> bytes:
        try:
            if kind == "ZLIB":
                return zlib.decompress(b)
            if kind == "GZIP":
                return gzip.decompress(b)
        except (zlib.error, OSError, EOFError) as exc:
            fail(f"Failed to decompress ({kind}): {exc}")
        return b

    def run(ctx: Any, data: np.ndarray) -> np.ndarray:
        flat = [one(to_bytes(v)) for v in np.asarray(data, dtype=object).reshape(-1)]
        return object_array(flat, data.shape)

    return run


# --------------------------------------------------------------------------- CSV


def _split_csv(record: bytes, delim: bytes, quote: bool) -> list[tuple[bytes, bool]]:
    fields: list[tuple[bytes, bool]] = []
    i, n = 0, len(record)
    while True:
        if quote and i < n and record[i : i + 1] == b'"':
            j = i + 1
            buf = bytearray()
            while True:
                if j >= n:
                    fail(f"Quoted field has to end with quote followed by delim or end: {record!r}")
                if record[j : j + 1] == b'"':
                    if record[j + 1 : j + 2] == b'"':
                        buf += b'"'
                        j += 2
                        continue
                    j += 1
                    break
                buf += record[j : j + 1]
                j += 1
            if j < n and record[j : j + len(delim)] != delim:
                fail(f"Quoted field has to end with quote followed by delim or end: {record!r}")
            fields.append((bytes(buf), True))
            i = j + len(delim)
            if j >= n:
                break
        else:
            j = record.find(delim, i)
            if j < 0:
                fields.append((record[i:], False))
                break
            fields.append((record[i:j], False))
            i = j + len(delim)
            if i > n:
                break
    return fields


@kernel_factory("DecodeCSV", family="parsing", dtypes=STRING)
def _decode_csv(node: NodeSpec) -> Any:
    delim = to_bytes(node.attrs.get("field_delim", b","))
    use_quote = bool(node.attrs.get("use_quote_delim", True))
    na_value = to_bytes(node.attrs.get("na_value", b""))
    select = [int(c) for c in (node.attrs.get("select_cols", []) or [])]

    def convert(text: bytes, quoted: bool, default: np.ndarray, col: int) -> Any:
        dtype = default.dtype
        empty = (text == b"" and not quoted) or (na_value and text == na_value)
        if empty:
            if default.size == 0:
                fail(f"Field {col} is required but missing in record!")
            return default.reshape(-1)[0]
        if dtype.kind == "O":
            return text
        try:
            if dtype.kind in "iu":
                return int(text)
            return float(text)
        except ValueError:
            fail(f"Field {col} in record is not a valid {dtype.name}: {text.decode('utf-8', 'replace')}")

    def run(ctx: Any, records: np.ndarray, *defaults: np.ndarray) -> list[np.ndarray]:
        flat = [to_bytes(v) for v in np.asarray(records, dtype=object).reshape(-1)]
        columns: list[list[Any]] = [[] for _ in defaults]
        for rec in flat:
            fields = _split_csv(rec, delim, use_quote)
            if select:
                fields = [fields[c] if c < len(fields) else (b"", False) for c in select]
            if len(fields) != len(defaults):
                fail(f"Expect {len(defaults)} fields but have {len(fields)} in record")
            for c, ((text, quoted), default) in enumerate(zip(fields, defaults, strict=True)):
                columns[c].append(convert(text, quoted, default, c))
        out = []
        for col, default in zip(columns, defaults, strict=True):
            if default.dtype.kind == "O":
                out.append(object_array(col, records.shape))
            else:
                out.append(np.array(col, dtype=default.dtype).reshape(records.shape))
        return out

    return run


# --------------------------------------------------------------------------- TensorProto (de)serialization


@kernel("SerializeTensor", family="parsing", dtypes=("all",))
def _serialize_tensor(ctx: Any, x: np.ndarray) -> np.ndarray:
    proto = tensor_format.from_numpy(x)
    return np.array(proto.SerializeToString(), dtype=object)


@kernel_factory("ParseTensor", family="parsing", dtypes=STRING)
def _parse_tensor(node: NodeSpec) -> Any:
    out = node.attrs.dtype_enum("out_type")

    def run(ctx: Any, serialized: np.ndarray) -> np.ndarray:
        if np.ndim(serialized) != 0:
            fail("Expected `serialized` to be a scalar")
        try:
            proto = tensor_pb2.TensorProto.FromString(to_bytes(serialized[()]))
        except DecodeError:
            fail("Could not parse `serialized` as TensorProto")
        if proto.dtype != out:
            fail(
                f"Type mismatch between parsed tensor ({tfdtypes.dtype_name(proto.dtype)}) and dtype "
                f"({tfdtypes.dtype_name(out)})"
            )
        return np.array(tensor_format.to_numpy(proto))

    return with_call_limits(run)


# --------------------------------------------------------------------------- tf.train.SequenceExample


def _type_name(dtype: np.dtype) -> str:
    return _TYPE_NAME[_KIND_BY_DTYPE[dtype]]


@kernel_factory("ParseSingleSequenceExample", family="parsing", dtypes=STRING)
def _parse_single_sequence_example(node: NodeSpec) -> Any:
    """tf.io.parse_single_sequence_example (TF1 sequence models): context features and feature lists"""
    n_ctx_sparse = int(node.attrs.get("Ncontext_sparse", 0))
    n_ctx_dense = int(node.attrs.get("Ncontext_dense", 0))
    n_fl_sparse = int(node.attrs.get("Nfeature_list_sparse", 0))
    n_fl_dense = int(node.attrs.get("Nfeature_list_dense", 0))
    ctx_sparse_types = _types(node, "context_sparse_types")
    ctx_dense_types = _types(node, "Tcontext_dense")
    ctx_dense_shapes = node.attrs.get("context_dense_shapes", []) or []
    fl_sparse_types = _types(node, "feature_list_sparse_types")
    fl_dense_types = _types(node, "feature_list_dense_types")
    fl_dense_shapes = node.attrs.get("feature_list_dense_shapes", []) or []

    def shape_of(shapes: list[Any], i: int) -> tuple[int, ...]:
        return tuple(int(d) for d in (shapes[i] if i < len(shapes) and shapes[i] is not None else ()))

    def run(ctx: Any, serialized: np.ndarray, missing_empty: np.ndarray, *rest: np.ndarray) -> list[Any]:
        pos = 0
        ctx_sparse_keys = _keys_of(rest[pos : pos + n_ctx_sparse])
        pos += n_ctx_sparse
        ctx_dense_keys = _keys_of(rest[pos : pos + n_ctx_dense])
        pos += n_ctx_dense
        fl_sparse_keys = _keys_of(rest[pos : pos + n_fl_sparse])
        pos += n_fl_sparse
        fl_dense_keys = _keys_of(rest[pos : pos + n_fl_dense])
        pos += n_fl_dense
        defaults = rest[pos : pos + n_ctx_dense]
        if np.asarray(serialized).ndim != 0:
            fail(f"Expected serialized to be a scalar, got shape: {shape_str(np.asarray(serialized).shape)}")
        data = to_bytes(np.asarray(serialized, dtype=object).reshape(()).item())
        try:
            example = example_pb2.SequenceExample.FromString(data)
        except DecodeError:
            fail("Could not parse example input, value: '<binary>'")
        context = example.context.feature
        lists = example.feature_lists.feature_list
        assumed_empty = set(_keys(missing_empty))

        def context_values(key: str, dtype: np.dtype) -> np.ndarray | None:
            return _values(context[key], key, dtype, 0) if key in context else None

        sp_idx, sp_val, sp_shape = [], [], []
        for key, dtype in zip(ctx_sparse_keys, ctx_sparse_types, strict=True):
            vals = context_values(key, dtype)
            vals = vals if vals is not None else np.zeros(0, dtype)
            sp_idx.append(np.arange(len(vals), dtype=np.int64).reshape(-1, 1))
            sp_val.append(vals if dtype.kind != "O" else object_array(list(vals)))
            sp_shape.append(np.array([len(vals)], dtype=np.int64))
        dense_out = []
        for i, (key, dtype) in enumerate(zip(ctx_dense_keys, ctx_dense_types, strict=True)):
            spec = _Dense(key, dtype, shape_of(ctx_dense_shapes, i), np.asarray(defaults[i], dtype=dtype))
            dense_out.append(_dense_values(spec, [context_values(key, dtype)], True))

        fl_idx, fl_val, fl_shape = [], [], []
        for key, dtype in zip(fl_sparse_keys, fl_sparse_types, strict=True):
            steps = list(lists[key].feature) if key in lists else []
            rows = [_values(f, key, dtype, t) for t, f in enumerate(steps)]
            rows = [r if r is not None else np.zeros(0, dtype) for r in rows]
            fl_idx.append(
                np.array([[t, j] for t, r in enumerate(rows) for j in range(len(r))], np.int64).reshape(-1, 2)
            )
            vals = np.concatenate(rows) if rows else np.zeros(0, dtype)
            fl_val.append(vals.astype(dtype) if dtype.kind != "O" else object_array(list(vals)))
            fl_shape.append(np.array([len(rows), max((len(r) for r in rows), default=0)], dtype=np.int64))
        fl_dense = []
        for i, (key, dtype) in enumerate(zip(fl_dense_keys, fl_dense_types, strict=True)):
            shape = shape_of(fl_dense_shapes, i)
            count = int(np.prod(shape)) if shape else 1
            if key not in lists:
                if key not in assumed_empty:
                    fail(
                        f"Name: , Feature list '{key}' is required but could not be found.  Did you mean "
                        "to include it in feature_list_dense_missing_assumed_empty or "
                        "feature_list_dense_defaults?"
                    )
                fl_dense.append(np.zeros((0,) + shape, dtype=dtype))
                continue
            steps = list(lists[key].feature)
            out = np.empty((len(steps),) + shape, dtype=dtype)
            flat = out.reshape(len(steps), count)
            for t, feature in enumerate(steps):
                values = _values(feature, key, dtype, t)
                size = 0 if values is None else len(values)
                if size != count:
                    fail(
                        f"Name: , Key: {key}, Index: {t}.  Number of {_type_name(dtype)} values != "
                        f"expected.  values size: {size} but output shape: {shape_str(shape)}"
                    )
                flat[t] = values
            fl_dense.append(out)
        return [*sp_idx, *sp_val, *sp_shape, *dense_out, *fl_idx, *fl_val, *fl_shape, *fl_dense]

    return run


def _types(node: NodeSpec, attr: str) -> list[np.dtype]:
    return [tfdtypes.as_numpy_dtype(t) for t in (node.attrs.get(attr, []) or [])]


def _keys_of(tensors: tuple[np.ndarray, ...]) -> list[str]:
    return [_key_text(np.asarray(k, dtype=object).reshape(-1)[0]) for k in tensors]
