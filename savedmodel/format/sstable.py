"""LevelDB table ("SSTable") files, as TensorFlow's `tensorflow/core/lib/io/table` writes them.

Layout: data blocks, a meta-index block, an index block, then a 48-byte footer
(two block handles padded to 40 bytes, then an 8-byte magic number). Each block
on disk is `contents | type byte | masked crc32c(contents + type)`. Block
contents are prefix-compressed entries with a restart point every N entries,
followed by the restart offsets and their count (fixed32 each). The index block
maps a separator key >= the last key of each data block to that block's handle.

Block types: 0 = stored as is, 1 = Snappy (raw format, no framing). LevelDB's
table builder tries Snappy when the build has it and keeps the result only when
it saves at least 1/8 of the block; the block CRC covers the stored bytes. Open
TensorFlow releases since 1.2 write TensorBundle indexes with compression off
(TF 1.1 wrote Snappy, which TF 1.0 could not read), but Snappy-compressed data
blocks do occur in the wild: TF Serving's own test SavedModels of 2019-2023
(`saved_model_half_plus_two_cpu` as regenerated in 2019, `_mlmd`, `_gpu_trt`,
`_tf2_cpu`) have them. This reader decompresses them (with `cramjam`, imported
only when such a block is met); the writer always writes type 0.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from savedmodel.errors import FormatError
from savedmodel.format import crc32c

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5
MAX_BLOCK_HANDLE_SIZE = 20
DEFAULT_BLOCK_SIZE = 262144
DEFAULT_RESTART_INTERVAL = 16
NO_COMPRESSION = 0
SNAPPY_COMPRESSION = 1

_FIXED32 = struct.Struct("<I")
_FIXED64 = struct.Struct("<Q")


# --------------------------------------------------------------------------- varints


def encode_varint(value: int) -> bytes:
    if value < 0:
        raise ValueError(f"varints encode non-negative numbers, not {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(data: bytes | memoryview, pos: int, limit: int | None = None) -> tuple[int, int]:
    """Decode a varint at `pos`; returns (value, position after it). Raises ValueError if malformed."""
    end = len(data) if limit is None else limit
    result = 0
    shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


# --------------------------------------------------------------------------- block handles


class BlockHandle:
    """Where a block's contents sit in the file (its trailer follows them)."""

    __slots__ = ("offset", "size")

    def __init__(self, offset: int, size: int) -> None:
        self.offset = offset
        self.size = size

    def encode(self) -> bytes:
        return encode_varint(self.offset) + encode_varint(self.size)

    @classmethod
    def decode(cls, data: bytes | memoryview, pos: int = 0) -> tuple[BlockHandle, int]:
        offset, pos = decode_varint(data, pos)
        size, pos = decode_varint(data, pos)
        return cls(offset, size), pos

    def __repr__(self) -> str:
        return f"BlockHandle(offset={self.offset}, size={self.size})"


# --------------------------------------------------------------------------- key shortening


def shortest_separator(start: bytes, limit: bytes) -> bytes:
    """A short key k with start <= k < limit (LevelDB's bytewise FindShortestSeparator)."""
    common = 0
    min_len = min(len(start), len(limit))
    while common < min_len and start[common] == limit[common]:
        common += 1
    if common >= min_len:
        return start  # one is a prefix of the other: keep `start`
    byte = start[common]
    if byte < 0xFF and byte + 1 < limit[common]:
        return start[:common] + bytes([byte + 1])
    return start


def short_successor(key: bytes) -> bytes:
    """A short key >= `key` (LevelDB's bytewise FindShortSuccessor)."""
    for i, byte in enumerate(key):
        if byte != 0xFF:
            return key[:i] + bytes([byte + 1])
    return key


# --------------------------------------------------------------------------- blocks


class BlockBuilder:
    """Accumulates sorted entries into one block's contents."""

    def __init__(self, restart_interval: int = DEFAULT_RESTART_INTERVAL) -> None:
        if restart_interval < 1:
            raise ValueError("restart_interval must be >= 1")
        self.restart_interval = restart_interval
        self.reset()

    def reset(self) -> None:
        self._buffer = bytearray()
        self._restarts = [0]
        self._counter = 0
        self._last_key = b""
        self._empty = True

    @property
    def empty(self) -> bool:
        return self._empty

    def size_estimate(self) -> int:
        return len(self._buffer) + 4 * len(self._restarts) + 4

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self._counter < self.restart_interval:
            limit = min(len(self._last_key), len(key))
            while shared < limit and self._last_key[shared] == key[shared]:
                shared += 1
        else:
            self._restarts.append(len(self._buffer))
            self._counter = 0
        self._buffer += encode_varint(shared)
        self._buffer += encode_varint(len(key) - shared)
        self._buffer += encode_varint(len(value))
        self._buffer += key[shared:]
        self._buffer += value
        self._last_key = key
        self._counter += 1
        self._empty = False

    def finish(self) -> bytes:
        out = bytearray(self._buffer)
        for restart in self._restarts:
            out += _FIXED32.pack(restart)
        out += _FIXED32.pack(len(self._restarts))
        return bytes(out)


def parse_block(contents: bytes | memoryview, source: str = "block") -> Iterator[tuple[bytes, bytes]]:
    """Yield (key, value) pairs of one block's contents, in order."""
    size = len(contents)
    if size < 4:
        raise FormatError(f"{source}: block of {size} bytes is too short")
    (num_restarts,) = _FIXED32.unpack_from(contents, size - 4)
    restarts_start = size - 4 - 4 * num_restarts
    if num_restarts == 0 or restarts_start < 0:
        raise FormatError(f"{source}: bad restart array ({num_restarts} restarts in {size} bytes)")
    pos = 0
    key = b""
    while pos < restarts_start:
        try:
            shared, pos = decode_varint(contents, pos, restarts_start)
            non_shared, pos = decode_varint(contents, pos, restarts_start)
            value_len, pos = decode_varint(contents, pos, restarts_start)
        except ValueError:
            raise FormatError(f"{source}: corrupt block entry at byte {pos}") from None
        end = pos + non_shared + value_len
        if shared > len(key) or end > restarts_start:
            raise FormatError(f"{source}: corrupt block entry at byte {pos}")
        key = key[:shared] + bytes(contents[pos : pos + non_shared])
        yield key, bytes(contents[pos + non_shared : end])
        pos = end


# --------------------------------------------------------------------------- Snappy


def snappy_uncompress(data: bytes | memoryview, what: str) -> bytes:
    """Uncompress one raw-format Snappy buffer (a LevelDB block of type 1).

    The declared length (the leading varint) is checked against the policy's
    max_string_length before anything is allocated.
    """
    from savedmodel.policy import check_string_length

    try:
        length, _ = decode_varint(data, 0)
    except ValueError:
        raise FormatError(f"{what}: corrupt Snappy block (bad length prefix)") from None
    check_string_length(length, f"{what}: Snappy block")
    try:
        import cramjam
    except ImportError:  # pragma: no cover - cramjam is a core dependency
        raise FormatError(f"{what}: Snappy-compressed block, and cramjam is not installed") from None
    try:
        out = bytes(cramjam.snappy.decompress_raw(bytes(data)))
    except Exception as exc:  # cramjam raises its own DecompressionError
        raise FormatError(f"{what}: corrupt Snappy block ({exc})") from None
    if len(out) != length:
        raise FormatError(f"{what}: Snappy block uncompressed to {len(out)} bytes, expected {length}")
    return out


# --------------------------------------------------------------------------- reader


class TableReader:
    """Reads a whole LevelDB table into memory-friendly iteration (the index of a bundle is small)."""

    def __init__(self, path: str | os.PathLike[str], verify_checksums: bool = True) -> None:
        self.path = Path(path)
        self.verify_checksums = verify_checksums
        try:
            self._data = self.path.read_bytes()
        except FileNotFoundError:
            raise FormatError(f"table file not found: {self.path}") from None
        except OSError as exc:
            raise FormatError(f"cannot read {self.path}: {exc.strerror}") from None
        self._metaindex_handle, self._index_handle = self._read_footer()

    def _read_footer(self) -> tuple[BlockHandle, BlockHandle]:
        data = self._data
        if len(data) < FOOTER_SIZE:
            raise FormatError(
                f"{self.path}: file of {len(data)} bytes is too short to be a table (truncated?)"
            )
        footer = memoryview(data)[len(data) - FOOTER_SIZE :]
        (magic,) = _FIXED64.unpack_from(footer, 40)
        if magic != TABLE_MAGIC:
            raise FormatError(
                f"{self.path}: bad table footer magic {magic:#018x} (not an SSTable, or truncated)"
            )
        try:
            metaindex, pos = BlockHandle.decode(footer[:40], 0)
            index, _ = BlockHandle.decode(footer[:40], pos)
        except ValueError:
            raise FormatError(f"{self.path}: corrupt table footer") from None
        return metaindex, index

    def read_block(self, handle: BlockHandle, what: str = "block") -> memoryview:
        end = handle.offset + handle.size + BLOCK_TRAILER_SIZE
        if end > len(self._data) - FOOTER_SIZE:
            raise FormatError(
                f"{self.path}: {what} at offset {handle.offset} (size {handle.size}) "
                "runs past the end of the file (truncated?)"
            )
        view = memoryview(self._data)
        contents = view[handle.offset : handle.offset + handle.size]
        block_type = self._data[handle.offset + handle.size]
        if self.verify_checksums:
            (stored,) = _FIXED32.unpack_from(self._data, handle.offset + handle.size + 1)
            actual = crc32c.extend(crc32c.crc32c(contents), bytes([block_type]))
            if crc32c.unmasked(stored) != actual:
                raise FormatError(f"{self.path}: checksum mismatch in {what} at offset {handle.offset}")
        if block_type == SNAPPY_COMPRESSION:
            return memoryview(snappy_uncompress(contents, f"{self.path}: {what} at offset {handle.offset}"))
        if block_type != NO_COMPRESSION:
            raise FormatError(f"{self.path}: {what} uses unsupported compression type {block_type}")
        return contents

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """All (key, value) pairs in key order."""
        index = self.read_block(self._index_handle, "index block")
        for separator, handle_bytes in parse_block(index, f"{self.path} index block"):
            try:
                handle, _ = BlockHandle.decode(handle_bytes)
            except ValueError:
                raise FormatError(
                    f"{self.path}: corrupt block handle under index key {separator!r}"
                ) from None
            block = self.read_block(handle, "data block")
            yield from parse_block(block, f"{self.path} data block at {handle.offset}")

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return self.items()


# --------------------------------------------------------------------------- writer


class TableBuilder:
    """Writes a LevelDB table to a binary stream with TensorFlow's default options."""

    def __init__(
        self,
        stream: BinaryIO,
        block_size: int = DEFAULT_BLOCK_SIZE,
        restart_interval: int = DEFAULT_RESTART_INTERVAL,
    ) -> None:
        self._stream = stream
        self._offset = 0
        self._block_size = block_size
        self._data_block = BlockBuilder(restart_interval)
        self._index_block = BlockBuilder(1)
        self._last_key: bytes | None = None
        self._pending_handle: BlockHandle | None = None
        self._finished = False

    def add(self, key: bytes, value: bytes) -> None:
        if self._finished:
            raise ValueError("table already finished")
        if self._last_key is not None and key <= self._last_key:
            raise ValueError(f"table keys must be strictly increasing: {key!r} after {self._last_key!r}")
        if self._pending_handle is not None:
            separator = shortest_separator(self._last_key or b"", key)
            self._index_block.add(separator, self._pending_handle.encode())
            self._pending_handle = None
        self._data_block.add(key, value)
        self._last_key = key
        if self._data_block.size_estimate() >= self._block_size:
            self._flush()

    def _flush(self) -> None:
        if self._data_block.empty:
            return
        self._pending_handle = self._write_block(self._data_block)

    def _write_block(self, block: BlockBuilder) -> BlockHandle:
        contents = block.finish()
        block.reset()
        return self._write_raw_block(contents)

    def _write_raw_block(self, contents: bytes) -> BlockHandle:
        handle = BlockHandle(self._offset, len(contents))
        trailer_type = bytes([NO_COMPRESSION])
        crc = crc32c.masked(crc32c.extend(crc32c.crc32c(contents), trailer_type))
        self._stream.write(contents)
        self._stream.write(trailer_type + _FIXED32.pack(crc))
        self._offset += len(contents) + BLOCK_TRAILER_SIZE
        return handle

    def finish(self) -> int:
        """Write the remaining blocks and the footer; returns the file size."""
        self._flush()
        self._finished = True
        metaindex_handle = self._write_block(BlockBuilder())
        if self._pending_handle is not None:
            successor = short_successor(self._last_key or b"")
            self._index_block.add(successor, self._pending_handle.encode())
            self._pending_handle = None
        index_handle = self._write_block(self._index_block)
        handles = metaindex_handle.encode() + index_handle.encode()
        footer = handles.ljust(2 * MAX_BLOCK_HANDLE_SIZE, b"\0") + _FIXED64.pack(TABLE_MAGIC)
        self._stream.write(footer)
        self._offset += len(footer)
        return self._offset


def write_table(stream: BinaryIO, items: list[tuple[bytes, bytes]], **options: int) -> int:
    """Write sorted (key, value) pairs as a table; returns the number of bytes written."""
    builder = TableBuilder(stream, **options)
    for key, value in items:
        builder.add(key, value)
    return builder.finish()
