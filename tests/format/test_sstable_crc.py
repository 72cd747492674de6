"""crc32c masking and the LevelDB table reader/writer."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from savedmodel.errors import FormatError
from savedmodel.format import crc32c, sstable

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "seed"

SEED_INDEXES = sorted(SEED.rglob("*.index"))


def test_crc32c_known_vector() -> None:
    assert crc32c.crc32c(b"123456789") == 0xE3069283
    assert crc32c.crc32c(b"") == 0


def test_crc32c_extend_and_buffers() -> None:
    data = bytes(range(256)) * 40000
    assert crc32c.extend(crc32c.crc32c(data[:1000]), data[1000:]) == crc32c.crc32c(data)
    assert crc32c.crc32c(memoryview(data)) == crc32c.crc32c(data)
    assert crc32c.crc32c(bytearray(data)) == crc32c.crc32c(data)


def test_mask_round_trip_and_value() -> None:
    # LevelDB's own test vector: Mask(Value("foo")) differs from Value("foo") and unmasks back.
    crc = crc32c.crc32c(b"foo")
    assert crc32c.masked(crc) != crc
    assert crc32c.unmasked(crc32c.masked(crc)) == crc
    assert crc32c.unmasked(crc32c.masked(crc32c.masked(crc))) == crc32c.masked(crc)
    # rotate right 15 and add the delta
    assert crc32c.masked(0) == 0xA282EAD8
    assert crc32c.masked(1) == (1 << 17) + 0xA282EAD8


def test_varints() -> None:
    for value in (0, 1, 127, 128, 300, 2**32, 2**63 - 1):
        encoded = sstable.encode_varint(value)
        assert sstable.decode_varint(encoded, 0) == (value, len(encoded))
    assert sstable.encode_varint(300) == b"\xac\x02"
    with pytest.raises(ValueError):
        sstable.decode_varint(b"\x80\x80", 0)


def test_separators() -> None:
    assert sstable.shortest_separator(b"abcdef", b"abzzz") == b"abd"
    assert sstable.shortest_separator(b"abc", b"abcd") == b"abc"
    assert sstable.shortest_separator(b"abc", b"abd") == b"abc"
    assert sstable.short_successor(b"abc") == b"b"
    assert sstable.short_successor(b"\xff\xffa") == b"\xff\xffb"
    assert sstable.short_successor(b"\xff") == b"\xff"


@pytest.mark.parametrize("path", SEED_INDEXES, ids=lambda p: str(p.relative_to(SEED)))
def test_tf_index_rewrites_byte_identical(path) -> None:
    items = list(sstable.TableReader(path).items())
    assert items[0][0] == b""
    assert items[0][1] == bytes.fromhex("08011a020801")
    buffer = io.BytesIO()
    sstable.write_table(buffer, items)
    assert buffer.getvalue() == path.read_bytes()


def test_many_entries_several_blocks_round_trip(tmp_path) -> None:
    items = [(f"key/{i:06d}".encode(), bytes([i % 251]) * (i % 97)) for i in range(20000)]
    buffer = io.BytesIO()
    sstable.write_table(buffer, items, block_size=4096)
    path = tmp_path / "t.sst"
    path.write_bytes(buffer.getvalue())
    reader = sstable.TableReader(path)
    assert list(reader.items()) == items


def test_unsorted_keys_refused() -> None:
    builder = sstable.TableBuilder(io.BytesIO())
    builder.add(b"b", b"")
    with pytest.raises(ValueError):
        builder.add(b"a", b"")


def test_block_checksum_mismatch(tmp_path) -> None:
    data = bytearray((SEED / "multiply_values.ckpt.index").read_bytes())
    data[3] ^= 0x40  # inside the first data block
    path = tmp_path / "x.index"
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="checksum mismatch"):
        list(sstable.TableReader(path).items())


def test_bad_magic_and_short_file(tmp_path) -> None:
    data = bytearray((SEED / "multiply_values.ckpt.index").read_bytes())
    data[-1] ^= 0xFF
    path = tmp_path / "x.index"
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="magic"):
        sstable.TableReader(path)
    path.write_bytes(b"short")
    with pytest.raises(FormatError, match="too short"):
        sstable.TableReader(path)
    with pytest.raises(FormatError, match="not found"):
        sstable.TableReader(tmp_path / "missing.index")
