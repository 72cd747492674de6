"""V1 checkpoints: the single-file SSTables written by the old `Save`/`SaveSlices` ops.

Layout (one table per file; a sharded save writes `<name>-NNNNN-of-NNNNN` files):
- every value is a serialized `SavedTensorSlices`;
- the entry under key `""` holds only its `meta`: for every tensor its name, full
  shape, dtype and the list of slices this file holds (a full tensor is one slice
  whose extents are all "full");
- every other entry holds one slice in `data` (`SavedSlice`: name, slice, and a
  TensorProto carrying only the typed values, no dtype or shape), under the
  OrderedCode key of (name, slice), the same encoding TensorBundle uses for slices.

`V1CheckpointReader` reads a file or a glob pattern of shards and reassembles
tensors (or parts of them); `write_v1_checkpoint` writes one file, as TF's
`SaveSlices` does.
"""

from __future__ import annotations

import glob
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel import policy
from savedmodel.errors import FormatError, NotFoundError
from savedmodel.format import dtypes, sstable, tensor
from savedmodel.format.atomic import atomic_write_bytes
from savedmodel.format.bundle import slice_index, slice_key, slice_proto_from_spec
from savedmodel.proto import saved_tensor_slice_pb2, tensor_pb2, tensor_slice_pb2

# TF_CHECKPOINT_VERSION, the `versions.producer` TensorFlow writes into the meta entry.
CHECKPOINT_VERSION = 1
_WILDCARDS = frozenset("*?[")

SliceSpec = Sequence[tuple[int, int | None]]


@dataclass
class _Slice:
    path: Path
    proto: tensor_slice_pb2.TensorSliceProto


@dataclass
class _TensorMeta:
    dtype: int
    shape: tuple[int, ...]
    slices: list[_Slice] = field(default_factory=list)


def matching_files(pattern: str | os.PathLike[str]) -> list[Path]:
    """The files a V1 file pattern names: itself, or the sorted glob matches of a pattern."""
    text = os.fspath(pattern)
    if not _WILDCARDS & set(text):
        return [Path(text)] if Path(text).is_file() else []
    return [Path(p) for p in sorted(glob.glob(text)) if Path(p).is_file()]


def is_v1_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether `path` (a file or pattern) names at least one table whose "" entry is V1 meta."""
    files = matching_files(path)
    if not files:
        return False
    try:
        for key, value in sstable.TableReader(files[0]).items():
            return key == b"" and _parse(value, files[0], key).HasField("meta")
    except FormatError:
        return False
    return False


def _parse(value: bytes, path: Path, key: bytes) -> saved_tensor_slice_pb2.SavedTensorSlices:
    message = saved_tensor_slice_pb2.SavedTensorSlices()
    try:
        message.ParseFromString(value)
    except Exception:  # protobuf's DecodeError
        raise FormatError(f"{path}: entry {key!r} is not a SavedTensorSlices message") from None
    return message


class V1CheckpointReader:
    """The tensors of a V1 checkpoint file, or of every shard a file pattern matches."""

    def __init__(self, pattern: str | os.PathLike[str]) -> None:
        self.pattern = os.fspath(pattern)
        self.files = matching_files(pattern)
        if not self.files:
            raise FormatError(f"no V1 checkpoint file matches {self.pattern!r}")
        self._tensors: dict[str, _TensorMeta] = {}
        self._values: dict[Path, dict[bytes, bytes]] = {}
        for path in self.files:
            self._read_file(path)

    def _read_file(self, path: Path) -> None:
        entries = dict(sstable.TableReader(path).items())
        header = entries.pop(b"", None)
        if header is None:
            raise FormatError(f"{path}: not a V1 checkpoint (no meta entry under the empty key)")
        meta = _parse(header, path, b"")
        if not meta.HasField("meta"):
            raise FormatError(f"{path}: the empty key holds no SavedTensorSliceMeta")
        self._values[path] = entries
        for saved in meta.meta.tensor:
            shape = tensor.shape_from_proto(saved.shape)
            if shape is None or any(d < 0 for d in shape):
                raise FormatError(f"{path}: tensor {saved.name!r} has no fully defined shape")
            known = self._tensors.get(saved.name)
            if known is None:
                known = self._tensors[saved.name] = _TensorMeta(int(saved.type), tuple(shape))
            elif known.dtype != saved.type or known.shape != tuple(shape):
                raise FormatError(
                    f"{path}: tensor {saved.name!r} has dtype/shape {saved.type}/{list(shape)} here "
                    f"and {known.dtype}/{list(known.shape)} in another shard"
                )
            known.slices.extend(_Slice(path, s) for s in saved.slice)

    def keys(self) -> list[str]:
        return sorted(self._tensors)

    def __contains__(self, name: str) -> bool:
        return name in self._tensors

    def has_tensor(self, name: str) -> bool:
        return name in self._tensors

    def close(self) -> None:
        """Nothing to release: the tables were read whole."""

    def _meta(self, name: str) -> _TensorMeta:
        meta = self._tensors.get(name)
        if meta is None:
            raise NotFoundError(f"tensor {name!r} not found in checkpoint {self.pattern}")
        return meta

    def dtype(self, name: str) -> int:
        return self._meta(name).dtype

    def shape(self, name: str) -> tuple[int, ...]:
        return self._meta(name).shape

    def read(self, name: str, spec: SliceSpec | None = None) -> np.ndarray:
        """The whole tensor, or the part `spec` ((start, length or None) per dim) selects."""
        meta = self._meta(name)
        np_dtype = dtypes.as_numpy_dtype(meta.dtype)
        where = f"checkpoint {self.pattern}, tensor {name!r}"
        policy.check_tensor_bytes(meta.shape, np_dtype.itemsize, where)
        full = np.empty(meta.shape, dtype=np_dtype)
        covered = np.zeros(meta.shape, dtype=bool)
        for piece in meta.slices:
            index = _index(piece.proto, meta.shape, where)
            full[index] = self._slice_values(name, piece, meta, index, where)
            covered[index] = True
        wanted = _spec_index(spec, meta.shape) if spec else tuple(slice(None) for _ in meta.shape)
        if not covered[wanted].all():
            raise FormatError(f"{where}: the saved slices do not cover the requested part")
        return (full[wanted] if wanted else full).copy()

    def _slice_values(
        self, name: str, piece: _Slice, meta: _TensorMeta, index: tuple[slice, ...], where: str
    ) -> np.ndarray:
        key = slice_key(name, piece.proto)
        value = self._values[piece.path].get(key)
        if value is None:
            raise FormatError(f"{where}: slice {_describe(piece.proto)} missing from {piece.path}")
        saved = _parse(value, piece.path, key).data
        shape = [len(range(*s.indices(d))) for s, d in zip(index, meta.shape, strict=True)]
        proto = tensor_pb2.TensorProto()
        proto.CopyFrom(saved.data)
        proto.dtype = meta.dtype
        proto.tensor_shape.CopyFrom(tensor.shape_to_proto(shape))
        values = tensor.to_numpy(proto)
        if values.size and int(np.prod(shape)) != values.size:
            raise FormatError(f"{where}: slice {_describe(piece.proto)} holds {values.size} values")
        return values

    def read_all(self) -> dict[str, np.ndarray]:
        return {name: self.read(name) for name in self.keys()}


def _index(proto: tensor_slice_pb2.TensorSliceProto, shape: tuple[int, ...], where: str) -> tuple[slice, ...]:
    if len(proto.extent) not in (0, len(shape)):
        raise FormatError(f"{where}: a slice of {len(proto.extent)} dims for a tensor of {len(shape)}")
    index = slice_index(proto, shape)
    for s, size in zip(index, shape, strict=True):
        if s.start < 0 or s.stop > size or s.start > s.stop:
            raise FormatError(f"{where}: slice {_describe(proto)} is outside the shape {list(shape)}")
    return index


def _spec_index(spec: SliceSpec, shape: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(
        slice(start, size if length is None else start + length)
        for (start, length), size in zip(spec, shape, strict=True)
    )


def _describe(proto: tensor_slice_pb2.TensorSliceProto) -> str:
    parts = [f"{e.start},{e.length}" if e.HasField("length") else "-" for e in proto.extent]
    return ":".join(parts) or "(scalar)"


# --------------------------------------------------------------------------- writer


def encode_v1_checkpoint(
    tensors: Iterable[tuple[str, Any, SliceSpec | None, Sequence[int] | None]],
) -> bytes:
    """The bytes of one V1 checkpoint file.

    Each item is (name, value, spec, full_shape): `spec` None saves the whole tensor;
    otherwise `value` is the part of a tensor of `full_shape` that `spec` selects.
    """
    meta = saved_tensor_slice_pb2.SavedTensorSlices()
    meta.meta.versions.producer = CHECKPOINT_VERSION
    entries: list[tuple[bytes, bytes]] = []
    seen: dict[str, saved_tensor_slice_pb2.SavedSliceMeta] = {}
    for name, value, spec, full_shape in tensors:
        array = np.asarray(value)
        dtype = dtypes.from_numpy(array.dtype) if array.dtype != object else dtypes.DT.DT_STRING
        shape = list(array.shape) if spec is None else list(full_shape or ())
        if spec is None:
            spec = [(0, None)] * array.ndim
        if len(spec) != len(shape):
            raise FormatError(
                f"V1 checkpoint: tensor {name!r} of {len(shape)} dims given {len(spec)} extents"
            )
        proto = slice_proto_from_spec(spec)
        entry = seen.get(name)
        if entry is None:
            entry = seen[name] = meta.meta.tensor.add(name=name, type=dtype)
            entry.shape.CopyFrom(tensor.shape_to_proto(shape))
        entry.slice.add().CopyFrom(proto)
        data = saved_tensor_slice_pb2.SavedTensorSlices()
        data.data.name = name
        data.data.slice.CopyFrom(proto)
        data.data.data.CopyFrom(tensor.values_proto(array, dtype))
        entries.append((slice_key(name, proto), data.SerializeToString(deterministic=True)))
    entries.append((b"", meta.SerializeToString(deterministic=True)))
    entries.sort(key=lambda kv: kv[0])
    for (a, _), (b, _) in zip(entries, entries[1:], strict=False):
        if a == b:
            raise FormatError(f"V1 checkpoint: the same slice saved twice (key {a!r})")
    buffer = io.BytesIO()
    sstable.write_table(buffer, entries)
    return buffer.getvalue()


def write_v1_checkpoint(
    path: str | os.PathLike[str],
    tensors: Iterable[tuple[str, Any, SliceSpec | None, Sequence[int] | None]],
) -> Path:
    """Write one V1 checkpoint file (see encode_v1_checkpoint); returns its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, encode_v1_checkpoint(tensors), overwrite=True)
    return target
