"""Checkpoint and file ops: RestoreV2, SaveV2, MergeV2Checkpoints, ShardedFilename,
ShardedFilespec, the V1 checkpoint ops Restore, RestoreSlice, Save, SaveSlices,
and ReadFile, WriteFile, MatchingFiles.

RestoreV2 reads a V1 checkpoint when the prefix names no V2 index but matches V1
files (TensorFlow's fallback, which TF Serving's sharded session bundles rely on).

Checkpoint prefixes are confined to the model's variables directory unless the
policy allows file access (see Runtime.check_path). ReadFile, WriteFile and
MatchingFiles are refused when a model is loaded (savedmodel.policy) unless file
access is allowed; their kernels check the policy again before touching a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError, PolicyError, SavedModelError
from savedmodel.format import checkpoint_v1, dtypes
from savedmodel.format.bundle import (
    BundleReader,
    BundleWriter,
    data_path,
    index_path,
    parse_shape_and_slice,
)
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory
from savedmodel.policy import check_string_length, limits_of, with_call_limits


def _text(value: Any) -> str:
    item = np.asarray(value).reshape(()).item() if np.ndim(value) == 0 else value
    if isinstance(item, bytes):
        return item.decode("utf-8", "surrogateescape")
    return str(item)


def _strings(value: Any) -> list[str]:
    return [
        v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else str(v)
        for v in np.asarray(value, dtype=object).reshape(-1)
    ]


@kernel_factory("RestoreV2", family="io", side_effects=True, doc="reads tensors from a V2 checkpoint")
def _restore_v2(node: NodeSpec) -> Any:
    wanted = [dtypes.as_numpy_dtype(t) for t in node.attrs.get("dtypes", [])]

    def run(ctx: Any, prefix: Any, names: Any, slices: Any) -> list[np.ndarray]:
        path = ctx.runtime.check_path(_text(prefix), f"RestoreV2 {node.name!r}")
        keys = _strings(names)
        specs = _strings(slices)
        if len(keys) != len(wanted) or len(specs) != len(keys):
            raise ExecutionError(
                f"RestoreV2 got {len(keys)} names, {len(specs)} slice specs and {len(wanted)} dtypes"
            )
        if not index_path(path).exists() and checkpoint_v1.matching_files(path):
            return _restore_v1(path, keys, specs, wanted)
        try:
            reader = BundleReader(path)
        except SavedModelError as exc:
            raise ExecutionError(f"cannot open checkpoint {path!r}: {exc}") from exc
        out = []
        with reader:
            for key, spec, dtype in zip(keys, specs, wanted, strict=True):
                if key not in reader:
                    raise ExecutionError(f"Key {key} not found in checkpoint {path}")
                value = _select_slice(reader.read(key), spec, key)
                if value.dtype != dtype:
                    raise ExecutionError(
                        f"checkpoint tensor {key!r} has dtype {value.dtype}, expected {dtype}"
                    )
                out.append(value)
        return out

    return with_call_limits(run)


def _parse_slice(spec: str, key: str) -> tuple[list[int], list[tuple[int, int | None]]]:
    try:
        return parse_shape_and_slice(spec)
    except SavedModelError as exc:
        raise ExecutionError(f"checkpoint tensor {key!r}: {exc}") from None


def _select_slice(value: np.ndarray, spec: str, key: str) -> np.ndarray:
    """The part of a (reassembled) checkpoint tensor that a 'dims start,len:-' spec names."""
    if not spec:
        return value
    full_shape, extents = _parse_slice(spec, key)
    if list(value.shape) != full_shape:
        raise ExecutionError(
            f"checkpoint tensor {key!r} has shape {list(value.shape)}, expected {full_shape}"
        )
    index = tuple(slice(start, None if length is None else start + length) for start, length in extents)
    return np.ascontiguousarray(value[index])


# --------------------------------------------------------------------------- V1 checkpoints


def _open_v1(pattern: str) -> checkpoint_v1.V1CheckpointReader:
    try:
        return checkpoint_v1.V1CheckpointReader(pattern)
    except SavedModelError as exc:
        raise ExecutionError(f"cannot open V1 checkpoint {pattern!r}: {exc}") from exc


def _read_v1(
    reader: checkpoint_v1.V1CheckpointReader, key: str, spec: str, dtype: np.dtype | None
) -> np.ndarray:
    """One tensor (or the part a 'dims start,len:-' spec names) of a V1 checkpoint."""
    if key not in reader:
        raise ExecutionError(f"Tensor name {key!r} not found in checkpoint files {reader.pattern}")
    extents = None
    if spec:
        full_shape, extents = _parse_slice(spec, key)
        if tuple(full_shape) != reader.shape(key):
            raise ExecutionError(
                f"checkpoint tensor {key!r} has shape {list(reader.shape(key))}, expected {full_shape}"
            )
    try:
        value = reader.read(key, extents)
    except SavedModelError as exc:
        raise ExecutionError(f"cannot read {key!r} from {reader.pattern}: {exc}") from exc
    if dtype is not None and value.dtype != dtype:
        raise ExecutionError(f"checkpoint tensor {key!r} has dtype {value.dtype}, expected {dtype}")
    return value


def _restore_v1(path: str, keys: list[str], specs: list[str], wanted: list[np.dtype]) -> list[np.ndarray]:
    reader = _open_v1(path)
    return [_read_v1(reader, k, s, d) for k, s, d in zip(keys, specs, wanted, strict=True)]


@kernel_factory("Restore", family="io", side_effects=True, doc="reads a tensor from a V1 checkpoint")
def _restore(node: NodeSpec) -> Any:
    dtype = dtypes.as_numpy_dtype(node.attrs["dt"])

    def run(ctx: Any, file_pattern: Any, tensor_name: Any) -> np.ndarray:
        path = ctx.runtime.check_path(_text(file_pattern), f"Restore {node.name!r}")
        return _read_v1(_open_v1(path), _text(tensor_name), "", dtype)

    return with_call_limits(run)


@kernel_factory(
    "RestoreSlice", family="io", side_effects=True, doc="reads a tensor slice from a V1 checkpoint"
)
def _restore_slice(node: NodeSpec) -> Any:
    dtype = dtypes.as_numpy_dtype(node.attrs["dt"])

    def run(ctx: Any, file_pattern: Any, tensor_name: Any, shape_and_slice: Any) -> np.ndarray:
        path = ctx.runtime.check_path(_text(file_pattern), f"RestoreSlice {node.name!r}")
        return _read_v1(_open_v1(path), _text(tensor_name), _text(shape_and_slice), dtype)

    return with_call_limits(run)


def _write_v1(path: str, keys: list[str], specs: list[str], tensors: tuple[Any, ...], op: str) -> None:
    if len(keys) != len(tensors) or len(specs) != len(keys):
        raise ExecutionError(
            f"{op} got {len(keys)} names and {len(specs)} slice specs for {len(tensors)} tensors"
        )
    items = []
    for key, spec, value in zip(keys, specs, tensors, strict=True):
        array = np.asarray(value)
        if spec:
            full_shape, extents = _parse_slice(spec, key)
            items.append((key, array, extents, full_shape))
        else:
            items.append((key, array, None, None))
    try:
        checkpoint_v1.write_v1_checkpoint(path, items)
    except SavedModelError as exc:
        raise ExecutionError(f"{op}: cannot write {path!r}: {exc}") from exc


@kernel("Save", family="io", side_effects=True, doc="writes whole tensors to a V1 checkpoint file")
def _save(ctx: Any, filename: Any, names: Any, *tensors: Any) -> None:
    path = ctx.runtime.check_path(_text(filename), "Save")
    keys = _strings(names)
    _write_v1(path, keys, [""] * len(keys), tensors, "Save")


@kernel("SaveSlices", family="io", side_effects=True, doc="writes tensors or slices to a V1 checkpoint file")
def _save_slices(ctx: Any, filename: Any, names: Any, slices: Any, *tensors: Any) -> None:
    path = ctx.runtime.check_path(_text(filename), "SaveSlices")
    _write_v1(path, _strings(names), _strings(slices), tensors, "SaveSlices")


@kernel("SaveV2", family="io", side_effects=True, doc="writes tensors (or slices of them) to a V2 checkpoint")
def _save_v2(ctx: Any, prefix: Any, names: Any, slices: Any, *tensors: Any) -> None:
    path = ctx.runtime.check_path(_text(prefix), "SaveV2")
    keys = _strings(names)
    specs = _strings(slices)
    if len(keys) != len(tensors) or len(specs) != len(keys):
        raise ExecutionError(
            f"SaveV2 got {len(keys)} names and {len(specs)} slice specs for {len(tensors)} tensors"
        )
    with BundleWriter(path, overwrite=True) as writer:
        for key, spec, value in sorted(zip(keys, specs, tensors, strict=True), key=lambda item: item[0]):
            if spec:
                full_shape, extents = _parse_slice(spec, key)
                writer.add_slice(key, full_shape, extents, value)
            else:
                writer.add(key, value)


@kernel_factory(
    "MergeV2Checkpoints", family="io", side_effects=True, doc="merges checkpoint shards into one prefix"
)
def _merge_v2(node: NodeSpec) -> Any:
    delete_old = bool(node.attrs.get("delete_old_dirs", True))

    def run(ctx: Any, prefixes: Any, destination: Any) -> None:
        sources = [ctx.runtime.check_path(p, "MergeV2Checkpoints") for p in _strings(prefixes)]
        dest = ctx.runtime.check_path(_text(destination), "MergeV2Checkpoints")
        if sources == [dest]:
            return
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        if len(sources) == 1:
            os.replace(data_path(sources[0], 0, 1), data_path(dest, 0, 1))
            os.replace(index_path(sources[0]), index_path(dest))
        else:
            _merge_shards(sources, dest)
        if delete_old:
            for source in sources:
                _remove_shard_dir(Path(source).parent)

    return run


def _merge_shards(sources: list[str], dest: str) -> None:
    """Merge several single-shard bundles (one per device) into one bundle at `dest`."""
    readers = [BundleReader(source) for source in sources]
    try:
        with BundleWriter(dest, overwrite=True) as writer:
            merged = sorted((key, reader) for reader in readers for key in reader.keys() if key)
            for key, reader in merged:
                writer.add(key, reader.read(key), dtype=reader.dtype(key))
    except SavedModelError as exc:
        raise ExecutionError(f"cannot merge checkpoint shards into {dest!r}: {exc}") from exc
    finally:
        for reader in readers:
            reader.close()
    for source in sources:
        for path in (index_path(source), data_path(source, 0, 1)):
            Path(path).unlink(missing_ok=True)


def _remove_shard_dir(parent: Path) -> None:
    try:
        parent.rmdir()
    except OSError:
        pass


@kernel("ShardedFilename", family="io", doc="'<basename>-<shard>-of-<num_shards>'")
def _sharded_filename(ctx: Any, basename: Any, shard: Any, num_shards: Any) -> np.ndarray:
    name = f"{_text(basename)}-{int(shard):05d}-of-{int(num_shards):05d}"
    return np.asarray(name.encode(), dtype=object)


@kernel("ShardedFilespec", family="io", doc="'<basename>-?????-of-<num_shards>'")
def _sharded_filespec(ctx: Any, basename: Any, num_shards: Any) -> np.ndarray:
    return np.asarray(f"{_text(basename)}-?????-of-{int(num_shards):05d}".encode(), dtype=object)


# --------------------------------------------------------------------------- file system


def _require_file_access(ctx: Any, op: str) -> None:
    if not ctx.runtime.policy.allow_file_access:
        raise PolicyError(f"{op} touches the file system; pass allow_file_access=True to allow it")


@kernel("ReadFile", family="io", side_effects=True, doc="reads a whole file (needs allow_file_access)")
def _read_file(ctx: Any, filename: Any) -> np.ndarray:
    _require_file_access(ctx, "ReadFile")
    path = _text(filename)
    try:
        check_string_length(os.stat(path).st_size, f"ReadFile {path!r}", limits_of(ctx))
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ExecutionError(f"ReadFile: cannot read {path!r}: {exc.strerror}") from None
    return np.asarray(data, dtype=object)


@kernel(
    "WriteFile",
    family="io",
    side_effects=True,
    doc="writes a file, creating its directories (needs allow_file_access)",
)
def _write_file(ctx: Any, filename: Any, contents: Any) -> None:
    _require_file_access(ctx, "WriteFile")
    path = Path(_text(filename))
    data = np.asarray(contents, dtype=object).reshape(()).item()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else str(data).encode())
    except OSError as exc:
        raise ExecutionError(f"WriteFile: cannot write {str(path)!r}: {exc.strerror}") from None


@kernel(
    "MatchingFiles",
    family="io",
    side_effects=True,
    doc="file names matching glob patterns (needs allow_file_access)",
)
def _matching_files(ctx: Any, pattern: Any) -> np.ndarray:
    import glob

    _require_file_access(ctx, "MatchingFiles")
    # Each pattern's matches in sorted order, patterns one after another, as TF returns them.
    matches = [m for p in _strings(pattern) for m in sorted(glob.glob(p))]
    out = np.empty(len(matches), dtype=object)
    out[:] = [m.encode("utf-8", "surrogateescape") for m in matches]
    return out
