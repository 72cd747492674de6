"""TensorBundle files: `<prefix>.index` (an SSTable of BundleEntryProto) + `<prefix>.data-NNNNN-of-NNNNN`.

This is the format of TF2 checkpoints, TF1 V2-format checkpoints and a
SavedModel's `variables/variables.*`.

* The index maps each tensor name to a BundleEntryProto (dtype, shape, shard,
  offset, size, masked crc32c of the stored bytes); the empty key holds a
  BundleHeaderProto (number of shards, endianness, format version).
* Numeric tensors are stored as raw little-endian bytes. DT_STRING tensors are
  stored as the element lengths (varint64 each), a fixed32 masked crc32c of
  those lengths written as uint32 LE, then the concatenated bytes.
* A partitioned variable has a "full" entry that lists its slices and holds no
  data; each slice is stored under a key built from the name and the slice
  with TensorFlow's OrderedCode encoding.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel import policy
from savedmodel.errors import FormatError, NotFoundError, PolicyError
from savedmodel.format import crc32c, dtypes, sstable
from savedmodel.format.dtypes import DT
from savedmodel.format.tensor import element_bytes, shape_from_proto, shape_to_proto
from savedmodel.proto import tensor_bundle_pb2, tensor_slice_pb2

HEADER_KEY = b""
INDEX_SUFFIX = ".index"
# Tensors at least this big are returned as read-only memory maps of the shard.
MMAP_THRESHOLD = 1 << 20
_READ_CHUNK = 8 << 20
_FIXED32 = struct.Struct("<I")

PathLike = str | os.PathLike[str]
SliceSpec = Sequence[tuple[int, int | None]]  # (start, length) per dim; None/-1 = whole dim


def index_path(prefix: PathLike) -> Path:
    return Path(str(prefix) + INDEX_SUFFIX)


def data_path(prefix: PathLike, shard: int, num_shards: int) -> Path:
    return Path(f"{prefix}.data-{shard:05d}-of-{num_shards:05d}")


def _key_bytes(key: str | bytes) -> bytes:
    return key if isinstance(key, bytes) else key.encode("utf-8", errors="surrogateescape")


def _key_str(key: bytes) -> str:
    return key.decode("utf-8", errors="surrogateescape")


# --------------------------------------------------------------------------- OrderedCode slice keys

_SIGNED_HEADER = [
    (0x00, 0x00),
    (0x80, 0x00),
    (0xC0, 0x00),
    (0xE0, 0x00),
    (0xF0, 0x00),
    (0xF8, 0x00),
    (0xFC, 0x00),
    (0xFE, 0x00),
    (0xFF, 0x00),
    (0xFF, 0x80),
    (0xFF, 0xC0),
]


def _ordered_num_increasing(value: int) -> bytes:
    """OrderedCode WriteNumIncreasing: a length byte, then the number big-endian."""
    raw = value.to_bytes(8, "big").lstrip(b"\0")
    return bytes([len(raw)]) + raw


def _ordered_signed_num_increasing(value: int) -> bytes:
    """OrderedCode WriteSignedNumIncreasing: self-delimiting, order-preserving signed ints."""
    magnitude = ~value if value < 0 else value
    if magnitude < 64:
        return bytes([(0x80 ^ value) & 0xFF])
    bits = magnitude.bit_length() + 1  # plus the sign bit
    length = next(n for n in range(2, 11) if bits <= 7 * n)
    raw = bytearray((value & ((1 << 80) - 1)).to_bytes(10, "big")[10 - length :])
    raw[0] ^= _SIGNED_HEADER[length][0]
    raw[1] ^= _SIGNED_HEADER[length][1]
    return bytes(raw)


def slice_key(name: str | bytes, slice_proto: tensor_slice_pb2.TensorSliceProto) -> bytes:
    """The index key under which TensorFlow stores one slice of a partitioned tensor."""
    out = bytearray(_ordered_num_increasing(0))
    out += _ordered_string_escape(_key_bytes(name))
    out += _ordered_num_increasing(len(slice_proto.extent))
    for extent in slice_proto.extent:
        length = extent.length if extent.HasField("length") else -1
        out += _ordered_signed_num_increasing(extent.start)
        out += _ordered_signed_num_increasing(length)
    return bytes(out)


def _ordered_string_escape(value: bytes) -> bytes:
    out = bytearray()
    for byte in value:
        if byte == 0x00:
            out += b"\x00\xff"
        elif byte == 0xFF:
            out += b"\xff\x00"
        else:
            out.append(byte)
    return bytes(out) + b"\x00\x01"


def slice_proto_from_spec(spec: SliceSpec) -> tensor_slice_pb2.TensorSliceProto:
    proto = tensor_slice_pb2.TensorSliceProto()
    for start, length in spec:
        extent = proto.extent.add(start=int(start))
        if length is not None and length >= 0:
            extent.length = int(length)
    return proto


def parse_shape_and_slice(text: str) -> tuple[list[int], list[tuple[int, int | None]]]:
    """Parse SaveV2's shape_and_slices string: '10 4 0,4:-' -> ([10, 4], [(0, 4), (0, None)]).

    The dims of the full tensor, then one 'start,length' or '-' (whole dim) per dim,
    separated by ':'.
    """
    parts = text.split()
    if len(parts) < 1:
        raise FormatError(f"bad shape_and_slice {text!r}")
    try:
        full_shape = [int(p) for p in parts[:-1]]
        spec: list[tuple[int, int | None]] = []
        for extent in parts[-1].split(":"):
            if extent == "-":
                spec.append((0, None))
            else:
                start, length = extent.split(",")
                spec.append((int(start), int(length)))
    except ValueError:
        raise FormatError(f"bad shape_and_slice {text!r}") from None
    if len(spec) != len(full_shape) or any(d < 0 for d in full_shape):
        raise FormatError(f"bad shape_and_slice {text!r}: {len(full_shape)} dims but {len(spec)} extents")
    for (start, length), size in zip(spec, full_shape, strict=True):
        if start < 0 or (length is not None and (length < 0 or start + length > size)):
            raise FormatError(f"bad shape_and_slice {text!r}: extent outside the tensor")
    return full_shape, spec


def slice_index(
    slice_proto: tensor_slice_pb2.TensorSliceProto, full_shape: Sequence[int]
) -> tuple[slice, ...]:
    """NumPy index selecting a slice within the full tensor."""
    index = []
    for dim, size in enumerate(full_shape):
        if dim >= len(slice_proto.extent):
            index.append(slice(0, size))
            continue
        extent = slice_proto.extent[dim]
        stop = extent.start + extent.length if extent.HasField("length") else size
        index.append(slice(extent.start, stop))
    return tuple(index)


# --------------------------------------------------------------------------- string tensors


def encode_string_tensor(values: np.ndarray) -> tuple[bytes, int]:
    """Bytes TensorFlow stores for a DT_STRING tensor, and the (unmasked) crc32c of its entry."""
    flat = [_as_bytes(v) for v in np.asarray(values, dtype=object).reshape(-1)]
    lengths = [len(v) for v in flat]
    if any(n > 0xFFFFFFFF for n in lengths):
        raise FormatError("string tensor elements must be shorter than 4 GiB")
    lengths_u32 = np.asarray(lengths, dtype="<u4").tobytes()
    length_crc = _FIXED32.pack(crc32c.masked(crc32c.crc32c(lengths_u32)))
    strings = b"".join(flat)
    payload = b"".join(sstable.encode_varint(n) for n in lengths) + length_crc + strings
    crc = crc32c.extend(crc32c.extend(crc32c.crc32c(lengths_u32), length_crc), strings)
    return payload, crc


def decode_string_tensor(data: bytes, count: int, where: str) -> tuple[np.ndarray, int]:
    """Parse a stored DT_STRING tensor of `count` elements; returns (flat object array, crc32c)."""
    lengths = []
    pos = 0
    try:
        for _ in range(count):
            length, pos = sstable.decode_varint(data, pos)
            lengths.append(length)
    except ValueError:
        raise FormatError(f"{where}: corrupt string tensor (bad element length)") from None
    if pos + 4 > len(data):
        raise FormatError(f"{where}: truncated string tensor")
    longest = max(lengths, default=0)
    if longest > len(data):  # also keeps absurd varints (>= 2**64) away from NumPy
        raise FormatError(f"{where}: corrupt string tensor (element length {longest} exceeds its size)")
    policy.check_string_length(longest, where)
    lengths_u32 = np.asarray(lengths, dtype=np.uint64).astype("<u4").tobytes()
    stored_length_crc = data[pos : pos + 4]
    (masked_length_crc,) = _FIXED32.unpack(stored_length_crc)
    if crc32c.unmasked(masked_length_crc) != crc32c.crc32c(lengths_u32):
        raise FormatError(f"{where}: checksum mismatch in string tensor lengths")
    pos += 4
    if pos + sum(lengths) != len(data):
        raise FormatError(f"{where}: string tensor lengths do not match its stored size")
    out = np.empty(count, dtype=object)
    for i, length in enumerate(lengths):
        out[i] = data[pos : pos + length]
        pos += length
    crc = crc32c.extend(
        crc32c.extend(crc32c.crc32c(lengths_u32), stored_length_crc), data[pos - sum(lengths) :]
    )
    return out, crc


def _as_bytes(value: Any) -> bytes:
    try:
        return element_bytes(value)
    except TypeError as exc:
        raise FormatError(str(exc)) from None


# --------------------------------------------------------------------------- reader


class BundleReader:
    """Random access to the tensors of a TensorBundle.

    `BundleReader("<dir>/variables/variables")` or `BundleReader("model.ckpt")`.
    Tensors of at least MMAP_THRESHOLD bytes are returned as read-only views of
    a memory map of their shard (no copy); smaller ones as ordinary arrays.
    """

    def __init__(self, prefix: PathLike, verify_checksums: bool = True) -> None:
        prefix = str(prefix)
        if prefix.endswith(INDEX_SUFFIX) and not index_path(prefix).is_file() and Path(prefix).is_file():
            prefix = prefix[: -len(INDEX_SUFFIX)]  # given the index file itself
        self.prefix = prefix
        self.verify_checksums = verify_checksums
        self._index = index_path(prefix)
        if not self._index.is_file():
            raise FormatError(f"checkpoint index file not found: {self._index}")
        self._entries: dict[bytes, tensor_bundle_pb2.BundleEntryProto] = {}
        self.header = tensor_bundle_pb2.BundleHeaderProto()
        self._read_index()
        self._slice_keys = {slice_key(key, s) for key, entry in self._entries.items() for s in entry.slices}
        self._visible = [k for k in self._entries if k not in self._slice_keys]
        self._visible_names = {_key_str(k) for k in self._visible}
        self._shards: dict[int, tuple[Path, mmap.mmap | None, int]] = {}

    # ----------------------------------------------------------------- index

    def _read_index(self) -> None:
        table = sstable.TableReader(self._index, verify_checksums=self.verify_checksums)
        seen_header = False
        for key, value in table.items():
            if key == HEADER_KEY:
                try:
                    self.header.ParseFromString(value)
                except Exception:
                    raise FormatError(f"{self._index}: corrupt bundle header") from None
                seen_header = True
                continue
            entry = tensor_bundle_pb2.BundleEntryProto()
            try:
                entry.ParseFromString(value)
            except Exception:
                raise FormatError(f"{self._index}: corrupt entry for tensor {_key_str(key)!r}") from None
            self._entries[key] = entry
        if not seen_header:
            raise FormatError(f"{self._index}: bundle index has no header entry")
        if self.header.num_shards < 1:
            raise FormatError(f"{self._index}: bundle header claims {self.header.num_shards} shards")
        if self.header.endianness != tensor_bundle_pb2.BundleHeaderProto.LITTLE:
            raise FormatError(f"{self._index}: big-endian bundles are not supported")

    @property
    def num_shards(self) -> int:
        return self.header.num_shards

    def keys(self) -> list[str]:
        """Tensor names in index order (slice-data entries of partitioned tensors left out)."""
        return [_key_str(k) for k in self._visible]

    def entries(self, include_slices: bool = False) -> dict[str, tensor_bundle_pb2.BundleEntryProto]:
        return {
            _key_str(k): e for k, e in self._entries.items() if include_slices or k not in self._slice_keys
        }

    def __contains__(self, key: object) -> bool:
        return isinstance(key, (str, bytes)) and _key_bytes(key) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._visible)

    def has_tensor(self, name: str) -> bool:
        """Whether `name` is a tensor of the bundle (slice-data entries excluded)."""
        return name in self._visible_names

    def entry(self, key: str | bytes) -> tensor_bundle_pb2.BundleEntryProto:
        try:
            return self._entries[_key_bytes(key)]
        except KeyError:
            raise NotFoundError(
                f"{self._index}: no tensor named {_key_str(_key_bytes(key))!r} in the bundle"
            ) from None

    def dtype(self, key: str | bytes) -> int:
        """The DataType enum value of a tensor."""
        return self.entry(key).dtype

    def shape(self, key: str | bytes) -> tuple[int, ...]:
        shape = shape_from_proto(self.entry(key).shape)
        return shape if shape is not None else ()

    # ----------------------------------------------------------------- data

    def _shard(self, shard_id: int, key: bytes) -> tuple[Path, mmap.mmap | None, int]:
        if shard_id in self._shards:
            return self._shards[shard_id]
        if not 0 <= shard_id < self.num_shards:
            raise FormatError(
                f"{self._index}: tensor {_key_str(key)!r} names shard {shard_id} of {self.num_shards}"
            )
        path = data_path(self.prefix, shard_id, self.num_shards)
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        except FileNotFoundError:
            raise FormatError(f"data file {path} (needed for tensor {_key_str(key)!r}) not found") from None
        except OSError as exc:
            raise FormatError(f"cannot read {path} (for tensor {_key_str(key)!r}): {exc.strerror}") from None
        self._shards[shard_id] = (path, mapped, size)
        return self._shards[shard_id]

    def _raw(self, key: bytes, entry: tensor_bundle_pb2.BundleEntryProto) -> tuple[Path, memoryview]:
        path, mapped, size = self._shard(entry.shard_id, key)
        if entry.offset < 0 or entry.size < 0 or entry.offset + entry.size > size:
            raise FormatError(
                f"{path}: tensor {_key_str(key)!r} at offset {entry.offset}, size {entry.size} runs past "
                f"the end of the file ({size} bytes; truncated?)"
            )
        if mapped is None:
            return path, memoryview(b"")
        return path, memoryview(mapped)[entry.offset : entry.offset + entry.size]

    def read(self, key: str | bytes) -> np.ndarray:
        """The tensor's value (checksum verified). Large numeric tensors are read-only memmap views."""
        key_b = _key_bytes(key)
        entry = self.entry(key_b)
        if entry.slices:
            return self._read_sliced(key_b, entry)
        return self._read_entry(key_b, entry)

    __getitem__ = read

    def _read_entry(self, key: bytes, entry: tensor_bundle_pb2.BundleEntryProto) -> np.ndarray:
        name = _key_str(key)
        shape = shape_from_proto(entry.shape)
        if shape is None or any(d < 0 for d in shape):
            raise FormatError(f"{self._index}: tensor {name!r} has a shape that is not fully defined")
        count = policy.element_count(shape)
        dtype = dtypes.base_dtype(entry.dtype)
        path, raw = self._raw(key, entry)
        where = f"{path}: tensor {name!r}"
        if dtype == DT.DT_STRING:
            values, crc = decode_string_tensor(bytes(raw), count, where)
            self._check_crc(entry, crc, where)
            return values.reshape(shape)
        if dtype in (DT.DT_VARIANT, DT.DT_RESOURCE):
            raise FormatError(
                f"{where}: reading {dtypes.dtype_name(dtype)} tensors from a bundle is not supported"
            )
        try:
            np_dtype = dtypes.as_numpy_dtype(dtype).newbyteorder("<")
        except FormatError as exc:
            raise FormatError(f"{where}: {exc}") from None
        expected = count * np_dtype.itemsize
        if entry.size != expected:
            raise FormatError(
                f"{where}: stored size {entry.size} does not match dtype {dtypes.dtype_name(dtype)} and "
                f"shape {list(shape)} ({expected} bytes)"
            )
        if self.verify_checksums:
            self._check_crc(entry, self._crc_of_file_range(path, entry), where)
        if entry.size >= MMAP_THRESHOLD:
            array = np.frombuffer(raw, dtype=np_dtype, count=count).reshape(shape)
            return array  # read-only: the map is opened with ACCESS_READ
        return np.frombuffer(bytes(raw), dtype=np_dtype, count=count).reshape(shape).copy()

    def _crc_of_file_range(self, path: Path, entry: tensor_bundle_pb2.BundleEntryProto) -> int:
        """crc32c of a tensor's stored bytes, read with pread so the map's pages are not touched."""
        crc = 0
        with open(path, "rb") as handle:
            fd = handle.fileno()
            done = 0
            while done < entry.size:
                chunk = os.pread(fd, min(_READ_CHUNK, entry.size - done), entry.offset + done)
                if not chunk:
                    raise FormatError(f"{path}: unexpected end of file")
                crc = crc32c.extend(crc, chunk)
                done += len(chunk)
        return crc

    def _check_crc(self, entry: tensor_bundle_pb2.BundleEntryProto, actual: int, where: str) -> None:
        if self.verify_checksums and crc32c.unmasked(entry.crc32c) != actual:
            raise FormatError(
                f"{where}: checksum mismatch (stored {crc32c.unmasked(entry.crc32c):#010x}, "
                f"computed {actual:#010x}); the data file is corrupt"
            )

    def _read_sliced(self, key: bytes, entry: tensor_bundle_pb2.BundleEntryProto) -> np.ndarray:
        name = _key_str(key)
        full_shape = shape_from_proto(entry.shape)
        if full_shape is None or any(d < 0 for d in full_shape):
            raise FormatError(f"{self._index}: partitioned tensor {name!r} has no full shape")
        dtype = dtypes.base_dtype(entry.dtype)
        try:
            np_dtype = dtypes.as_numpy_dtype(dtype)
        except FormatError as exc:
            raise FormatError(f"{self._index}: tensor {name!r}: {exc}") from None
        # the full shape comes from the index alone: bound it before allocating
        policy.check_tensor_bytes(
            full_shape, np_dtype.itemsize, f"{self._index}: partitioned tensor {name!r}"
        )
        out = np.empty(full_shape, dtype=np_dtype)
        covered = np.zeros(full_shape, dtype=bool) if out.size else None
        for slice_proto in entry.slices:
            skey = slice_key(key, slice_proto)
            if skey not in self._entries:
                raise FormatError(
                    f"{self._index}: slice {slice_index(slice_proto, full_shape)} of {name!r} is missing"
                )
            part = self._read_entry(skey, self._entries[skey])
            index = slice_index(slice_proto, full_shape)
            target = out[index]
            if part.shape != target.shape:
                raise FormatError(
                    f"{self._index}: slice of {name!r} has shape {part.shape}, expected {target.shape}"
                )
            out[index] = part
            if covered is not None:
                covered[index] = True
        if covered is not None and not covered.all():
            raise FormatError(f"{self._index}: the slices of {name!r} do not cover the whole tensor")
        return out

    def read_all(self) -> dict[str, np.ndarray]:
        return {key: self.read(key) for key in self.keys()}

    # ----------------------------------------------------------------- lifetime

    def close(self) -> None:
        """Drop this reader's maps (arrays already returned keep theirs alive)."""
        for _, mapped, _ in self._shards.values():
            if mapped is not None:
                with contextlib.suppress(BufferError):
                    mapped.close()
        self._shards.clear()

    def __enter__(self) -> BundleReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BundleReader({self.prefix!r}, {len(self)} tensors, {self.num_shards} shard(s))"


# --------------------------------------------------------------------------- writer


class _Shard:
    def __init__(self, final: Path) -> None:
        self.final = final
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.tempstate-", dir=final.parent)
        self.tmp = Path(tmp)
        self.stream = os.fdopen(fd, "wb")
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        offset = self.size
        self.stream.write(data)
        self.size += len(data)
        return offset

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink()


class BundleWriter:
    """Writes a TensorBundle as TensorFlow's BundleWriter does.

    Data is streamed to temporary shard files as tensors are added; `finish()`
    writes the index and renames everything into place (index last). Tensor
    data is laid out in `add` order; the index is sorted by key. By default a
    tensor goes to the shard holding the fewest bytes so far (`shard=` picks one).
    """

    def __init__(self, prefix: PathLike, num_shards: int = 1, overwrite: bool = False) -> None:
        if num_shards < 1:
            raise ValueError("num_shards must be >= 1")
        self.prefix = str(prefix)
        self.num_shards = num_shards
        self._index = index_path(prefix)
        if self._index.exists() and not overwrite:
            raise PolicyError(f"{self._index} already exists (pass overwrite=True to replace it)")
        self._index.parent.mkdir(parents=True, exist_ok=True)
        self._entries: dict[bytes, tensor_bundle_pb2.BundleEntryProto] = {}
        self._shards: list[_Shard] = []
        try:
            for shard in range(num_shards):
                self._shards.append(_Shard(data_path(prefix, shard, num_shards)))
        except BaseException:
            self.abort()
            raise
        self._finished = False

    def add(
        self,
        key: str | bytes,
        value: Any,
        dtype: int | str | None = None,
        shard: int | None = None,
    ) -> tensor_bundle_pb2.BundleEntryProto:
        """Store one tensor. `dtype` is a DataType enum value or name ('float32', 'DT_HALF')."""
        key_b = _key_bytes(key)
        if key_b == HEADER_KEY:
            raise FormatError("the empty tensor name is reserved for the bundle header")
        self._check_new(key_b)
        entry = self._write_tensor(key_b, value, dtype, shard)
        self._entries[key_b] = entry
        return entry

    def add_slice(
        self,
        name: str | bytes,
        full_shape: Sequence[int],
        slice_spec: SliceSpec,
        value: Any,
        dtype: int | str | None = None,
        shard: int | None = None,
    ) -> None:
        """Store one slice of a partitioned tensor (as TF1's Saver does for partitioned variables)."""
        name_b = _key_bytes(name)
        slice_proto = slice_proto_from_spec(slice_spec)
        array_value = np.asarray(value) if dtype is None or not _is_string_dtype(dtype) else value
        expected = np.empty(tuple(full_shape), dtype=bool)[slice_index(slice_proto, full_shape)].shape
        if tuple(np.shape(array_value)) != expected:
            raise FormatError(f"slice {list(slice_spec)} of {_key_str(name_b)!r} needs shape {expected}")
        skey = slice_key(name_b, slice_proto)
        self._check_new(skey)
        slice_entry = self._write_tensor(skey, value, dtype, shard)
        self._entries[skey] = slice_entry
        full = self._entries.get(name_b)
        if full is None:
            # A merged multi-shard bundle keeps the full entry in the shard of its first slice.
            full = tensor_bundle_pb2.BundleEntryProto(dtype=slice_entry.dtype, shard_id=slice_entry.shard_id)
            full.shape.CopyFrom(shape_to_proto(full_shape))
            self._entries[name_b] = full
        elif (
            not full.slices
            or full.dtype != slice_entry.dtype
            or shape_from_proto(full.shape) != tuple(full_shape)
        ):
            raise FormatError(
                f"tensor {_key_str(name_b)!r} was added with a different dtype, shape or unsliced"
            )
        full.slices.add().CopyFrom(slice_proto)

    def _check_new(self, key: bytes) -> None:
        if self._finished:
            raise FormatError(f"{self._index}: the bundle writer is already finished")
        if key in self._entries:
            raise FormatError(f"tensor {_key_str(key)!r} added twice to {self.prefix}")

    def _write_tensor(
        self, key: bytes, value: Any, dtype: int | str | None, shard: int | None
    ) -> tensor_bundle_pb2.BundleEntryProto:
        if isinstance(dtype, str):
            dtype = dtypes.from_name(dtype)
        array = (
            np.asarray(value, dtype=object)
            if dtype is not None and _is_string_dtype(dtype)
            else np.asarray(value)
        )
        if dtype is None:
            dtype = dtypes.from_numpy(array.dtype)
        dtype = dtypes.base_dtype(dtype)
        target = self._pick_shard(shard)
        entry = tensor_bundle_pb2.BundleEntryProto(dtype=dtype, shard_id=target)
        entry.shape.CopyFrom(shape_to_proto(array.shape))
        if dtype == DT.DT_STRING:
            payload, crc = encode_string_tensor(array)
            data: bytes | memoryview = payload
        elif dtype in (DT.DT_VARIANT, DT.DT_RESOURCE):
            raise FormatError(f"cannot store a {dtypes.dtype_name(dtype)} tensor in a bundle")
        else:
            np_dtype = dtypes.as_numpy_dtype(dtype).newbyteorder("<")
            if array.dtype.kind in "OSU":
                raise FormatError(
                    f"tensor {_key_str(key)!r}: cannot store text as {dtypes.dtype_name(dtype)}"
                )
            contiguous = np.ascontiguousarray(array.astype(np_dtype, copy=False))
            data = memoryview(contiguous.reshape(-1).view(np.uint8)) if contiguous.size else b""
            crc = crc32c.crc32c(data)
        entry.offset = self._shards[target].write(data)
        entry.size = len(data)
        entry.crc32c = crc32c.masked(crc)
        return entry

    def _pick_shard(self, shard: int | None) -> int:
        if shard is None:
            return min(range(self.num_shards), key=lambda i: (self._shards[i].size, i))
        if not 0 <= shard < self.num_shards:
            raise ValueError(f"shard {shard} out of range for {self.num_shards} shards")
        return shard

    def header(self) -> tensor_bundle_pb2.BundleHeaderProto:
        header = tensor_bundle_pb2.BundleHeaderProto(num_shards=self.num_shards)
        header.version.producer = 1
        return header

    def index_bytes(self) -> bytes:
        """The serialized index for what was added so far."""
        import io

        items = [(HEADER_KEY, self.header().SerializeToString(deterministic=True))]
        items += [(k, self._entries[k].SerializeToString(deterministic=True)) for k in sorted(self._entries)]
        buffer = io.BytesIO()
        sstable.write_table(buffer, items)
        return buffer.getvalue()

    def finish(self) -> Path:
        """Write `<prefix>.index`, move the shard files into place; returns the index path."""
        if self._finished:
            raise FormatError(f"{self._index}: the bundle writer is already finished")
        self._finished = True
        try:
            index = self.index_bytes()
            for shard in self._shards:
                shard.stream.flush()
                os.fsync(shard.stream.fileno())
                shard.stream.close()
            fd, tmp = tempfile.mkstemp(prefix=f".{self._index.name}.tempstate-", dir=self._index.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(index)
                for shard in self._shards:
                    os.replace(shard.tmp, shard.final)
                os.replace(tmp, self._index)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except BaseException:
            self.abort()
            raise
        return self._index

    def abort(self) -> None:
        """Remove the temporary files; nothing is written."""
        self._finished = True
        for shard in self._shards:
            shard.abort()

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._finished:
            self.finish()


def _is_string_dtype(dtype: int | str) -> bool:
    if isinstance(dtype, str):
        dtype = dtypes.from_name(dtype)
    return dtypes.is_string(dtype)


def write_bundle(
    prefix: PathLike, tensors: dict[str, Any] | Iterable[tuple[str, Any]], overwrite: bool = False
) -> Path:
    """Write tensors (name -> array) as a single-shard bundle, in the given order."""
    items = tensors.items() if isinstance(tensors, dict) else tensors
    with BundleWriter(prefix, overwrite=overwrite) as writer:
        for name, value in items:
            writer.add(name, value)
    return index_path(prefix)


def read_bundle(prefix: PathLike) -> dict[str, np.ndarray]:
    """All tensors of a bundle, read into memory (copies, not maps)."""
    with BundleReader(prefix) as reader:
        return {key: np.array(reader.read(key)) for key in reader.keys()}
