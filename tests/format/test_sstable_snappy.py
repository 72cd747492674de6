"""Snappy-compressed SSTable blocks (block type 1), as in TF Serving's 2019-2023 test models."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from savedmodel.errors import FormatError
from savedmodel.format import crc32c, sstable
from savedmodel.format.bundle import BundleReader

REALWORLD = Path(__file__).resolve().parents[1] / "fixtures" / "realworld"
# Each of these variables.index files stores its one data block Snappy-compressed.
SNAPPY_MODELS = [
    "tfserving__saved_model_half_plus_two_cpu__2019_3ba8a6d",
    "tfserving__saved_model_half_plus_two_cpu_with_saved_model_config__2023_eb5b3a5",
    "tfserving__saved_model_half_plus_two_mlmd__2020_4f8d3b7",
    "tfserving__saved_model_half_plus_two_gpu_trt__2020_28f812d",
    "tfserving__saved_model_half_plus_two_tf2_cpu__2020_b724ced",
    "tfserving__saved_model_half_plus_two_tf2_cpu__2023_45bc291",
]


def _block_types(path: Path) -> list[int]:
    reader = sstable.TableReader(path)
    data = path.read_bytes()
    index = reader.read_block(reader._index_handle, "index block")
    types = []
    for _, handle_bytes in sstable.parse_block(index):
        handle, _ = sstable.BlockHandle.decode(handle_bytes)
        types.append(data[handle.offset + handle.size])
    return types


@pytest.mark.parametrize("name", SNAPPY_MODELS)
def test_real_snappy_index(name: str) -> None:
    index = REALWORLD / name / "variables" / "variables.index"
    assert sstable.SNAPPY_COMPRESSION in _block_types(index)
    keys = [key for key, _ in sstable.TableReader(index).items()]
    assert keys[0] == b""
    with BundleReader(index.parent / "variables") as reader:
        names = [k for k in reader.keys() if k]
        values = {k: reader.read(k) for k in names}
    # half_plus_two: y = a * x + b with a = 0.5, b = 2 (TF2 models add c = 3 for the x2 -> y3 heads).
    a = next(v for k, v in values.items() if k.split("/")[0] == "a")
    b = next(v for k, v in values.items() if k.split("/")[0] == "b")
    assert a.dtype == np.float32 and float(a) == 0.5
    assert float(b) == 2.0


def _one_block_table(contents: bytes, block_type: int, crc: int | None = None) -> bytes:
    """A table whose single data block is `contents` stored with `block_type`."""
    out = bytearray()

    def block(raw: bytes, kind: int, checksum: int | None = None) -> sstable.BlockHandle:
        handle = sstable.BlockHandle(len(out), len(raw))
        if checksum is None:
            checksum = crc32c.masked(crc32c.extend(crc32c.crc32c(raw), bytes([kind])))
        out.extend(raw + bytes([kind]) + struct.pack("<I", checksum))
        return handle

    data = block(contents, block_type, crc)
    meta = sstable.BlockBuilder()
    meta_handle = block(meta.finish(), 0)
    index = sstable.BlockBuilder(1)
    index.add(b"z", data.encode())
    index_handle = block(index.finish(), 0)
    footer = (meta_handle.encode() + index_handle.encode()).ljust(40, b"\0")
    out.extend(footer + struct.pack("<Q", sstable.TABLE_MAGIC))
    return bytes(out)


def _entries() -> bytes:
    builder = sstable.BlockBuilder()
    for i in range(50):
        builder.add(f"key{i:03d}".encode(), b"value " * 10 + bytes([i]))
    return builder.finish()


def test_snappy_block_round_trip(tmp_path: Path) -> None:
    import cramjam

    raw = _entries()
    compressed = bytes(cramjam.snappy.compress_raw(raw))
    assert len(compressed) < len(raw)
    path = tmp_path / "t.index"
    path.write_bytes(_one_block_table(compressed, sstable.SNAPPY_COMPRESSION))
    items = list(sstable.TableReader(path).items())
    assert items == list(sstable.parse_block(raw))


def test_snappy_crc_covers_stored_bytes(tmp_path: Path) -> None:
    import cramjam

    raw = _entries()
    compressed = bytes(cramjam.snappy.compress_raw(raw))
    # A CRC over the uncompressed bytes is wrong: TF checks the stored (compressed) bytes + type.
    wrong = crc32c.masked(crc32c.extend(crc32c.crc32c(raw), b"\x01"))
    path = tmp_path / "t.index"
    path.write_bytes(_one_block_table(compressed, sstable.SNAPPY_COMPRESSION, wrong))
    with pytest.raises(FormatError, match="checksum mismatch"):
        list(sstable.TableReader(path).items())
    assert list(sstable.TableReader(path, verify_checksums=False).items())


def test_corrupt_snappy_block(tmp_path: Path) -> None:
    path = tmp_path / "t.index"
    path.write_bytes(_one_block_table(b"\x40\x00garbage", sstable.SNAPPY_COMPRESSION))
    with pytest.raises(FormatError, match="Snappy"):
        list(sstable.TableReader(path).items())


def test_unknown_block_type(tmp_path: Path) -> None:
    path = tmp_path / "t.index"
    path.write_bytes(_one_block_table(_entries(), 7))
    with pytest.raises(FormatError, match="compression type 7"):
        list(sstable.TableReader(path).items())


def test_writer_stays_uncompressed(tmp_path: Path) -> None:
    path = tmp_path / "t.index"
    with path.open("wb") as stream:
        sstable.write_table(stream, [(f"k{i:04d}".encode(), b"x" * 100) for i in range(100)])
    assert set(_block_types(path)) == {sstable.NO_COMPRESSION}
