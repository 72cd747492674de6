"""BundleReader / BundleWriter against TensorFlow-written bundles."""

from __future__ import annotations

import numpy as np
import pytest

from savedmodel.errors import FormatError, NotFoundError, PolicyError
from savedmodel.format import bundle, dtypes
from savedmodel.format.bundle import BundleReader, BundleWriter, slice_key
from savedmodel.format.tensor import shape_from_proto

from .helpers import FORMAT, SEED, bundle_prefixes, golden, matches_golden

ALL_TF_PREFIXES = [FORMAT / p for p in bundle_prefixes()] + [
    SEED / "multiply_values.ckpt",
    SEED / "tf2-save" / "variables" / "variables",
    SEED / "keras-model" / "variables" / "variables",
    SEED / "estimator-model" / "variables" / "variables",
]


def _id(path) -> str:
    return str(path.relative_to(path.parents[2] if "seed" in path.parts else FORMAT))


@pytest.mark.parametrize("prefix", bundle_prefixes())
def test_values_match_tensorflow(prefix: str) -> None:
    expected = golden()["bundles"][prefix]
    with BundleReader(FORMAT / prefix) as reader:
        assert sorted(reader.keys()) == sorted(name for name, _ in expected["list_variables"])
        for name, shape in expected["list_variables"]:
            assert list(reader.shape(name)) == shape
        for name, want in expected["tensors"].items():
            value = reader.read(name)
            assert dtypes.dtype_name(reader.dtype(name)) == want["dtype"], name
            assert value.dtype == dtypes.as_numpy_dtype(reader.dtype(name))
            assert matches_golden(value, want), name


def test_dtypes_fixture_values() -> None:
    with BundleReader(FORMAT / "tf2-dtypes" / "variables" / "variables") as reader:
        text = reader.read("text/.ATTRIBUTES/VARIABLE_VALUE")
        assert text.dtype == object and text.tolist() == [b"hello", b"", b"caf\xc3\xa9", b"\x00\xff\x01"]
        assert reader.read("scalar_text/.ATTRIBUTES/VARIABLE_VALUE")[()] == b"a scalar string"
        assert reader.read("empty_text/.ATTRIBUTES/VARIABLE_VALUE").shape == (0,)
        half = reader.read("half/.ATTRIBUTES/VARIABLE_VALUE")
        assert half.dtype == np.float16 and half[0].tolist() == [1.5, -2.25, 65504.0]
        bf16 = reader.read("bf16/.ATTRIBUTES/VARIABLE_VALUE")
        assert str(bf16.dtype) == "bfloat16" and bf16.astype(np.float32)[1] == -3.140625
        assert reader.read("int64/.ATTRIBUTES/VARIABLE_VALUE").tolist() == [0, -1, 2**62, -(2**63)]
        assert reader.read("flags/.ATTRIBUTES/VARIABLE_VALUE").tolist() == [[True, False], [False, True]]
        assert reader.read("count/.ATTRIBUTES/VARIABLE_VALUE").dtype == np.int32


def test_partitioned_variable_reassembled() -> None:
    with BundleReader(FORMAT / "tf1-partitioned-ckpt" / "model.ckpt") as reader:
        assert sorted(reader.keys()) == ["part", "plain", "scope/cols"]
        np.testing.assert_array_equal(
            reader.read("part"), np.arange(40, dtype=np.float32).reshape(10, 4) * 0.5
        )
        np.testing.assert_array_equal(reader.read("scope/cols"), np.arange(14, dtype=np.int32).reshape(2, 7))
        assert len(reader.entries(include_slices=True)) == 8


def test_multi_shard_bundle() -> None:
    with BundleReader(FORMAT / "multi-shard-ckpt" / "ckpt") as reader:
        assert reader.num_shards == 3
        shards = {e.shard_id for e in reader.entries(include_slices=True).values()}
        assert shards == {0, 1, 2}
        np.testing.assert_array_equal(
            reader.read("v2/.ATTRIBUTES/VARIABLE_VALUE"), np.arange(12, dtype=np.float32) + 2
        )
        assert reader.read("s1/.ATTRIBUTES/VARIABLE_VALUE")[()] == b"shard 1"


def _rewrite(reader: BundleReader, prefix) -> None:
    """Write the same tensors in TF's data order (shard, offset)."""
    entries = reader.entries(include_slices=True)
    owners = {}
    for name, entry in entries.items():
        for slice_proto in entry.slices:
            owners[slice_key(name, slice_proto)] = (name, entry, slice_proto)
    with BundleWriter(prefix, num_shards=reader.num_shards) as writer:
        for key, entry in sorted(entries.items(), key=lambda kv: (kv[1].shard_id, kv[1].offset, kv[0])):
            if entry.slices:
                continue
            raw_key = key.encode("utf-8", "surrogateescape")
            if raw_key in owners:
                name, full, slice_proto = owners[raw_key]
                spec = [(e.start, e.length if e.HasField("length") else None) for e in slice_proto.extent]
                writer.add_slice(
                    name,
                    shape_from_proto(full.shape),
                    spec,
                    reader.read(raw_key),
                    entry.dtype,
                    entry.shard_id,
                )
            else:
                writer.add(key, reader.read(key), dtype=entry.dtype, shard=entry.shard_id)


@pytest.mark.parametrize("prefix", ALL_TF_PREFIXES, ids=_id)
def test_writer_reproduces_tf_bytes(prefix, tmp_path) -> None:
    with BundleReader(prefix) as reader:
        _rewrite(reader, tmp_path / "out")
        num_shards = reader.num_shards
    assert (tmp_path / "out.index").read_bytes() == bundle.index_path(prefix).read_bytes()
    for shard in range(num_shards):
        ours = bundle.data_path(tmp_path / "out", shard, num_shards).read_bytes()
        assert ours == bundle.data_path(prefix, shard, num_shards).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out.index"] + [bundle.data_path("out", s, num_shards).name for s in range(num_shards)]
    )


ROUND_TRIP_VALUES = {
    "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
    "f64": np.array(np.pi),
    "f16": np.array([1.5, -0.0, np.inf], np.float16),
    "bf16": np.array([1.0, 2.5], dtypes.as_numpy_dtype(dtypes.DT.DT_BFLOAT16)),
    "i8": np.array([-1, 2], np.int8),
    "u16": np.array([65535], np.uint16),
    "i64": np.array([[2**40]], np.int64),
    "u64": np.array([2**64 - 1], np.uint64),
    "bool": np.array([True, False, True]),
    "c128": np.array([1 + 1j], np.complex128),
    "int4": np.array([-8, 7, 0], dtypes.as_numpy_dtype(dtypes.DT.DT_INT4)),
    "empty": np.zeros((0, 3), np.float32),
    "str": np.array([b"a", b"", "\u00e9".encode(), b"\x00" * 300], dtype=object),
    "str0": np.array(b"scalar", dtype=object),
    "big": np.arange(2**19, dtype=np.float32),  # 2 MiB: returned as a memory map
}


def test_round_trip_every_dtype(tmp_path) -> None:
    prefix = tmp_path / "rt" / "ckpt"
    bundle.write_bundle(prefix, ROUND_TRIP_VALUES)
    with BundleReader(prefix) as reader:
        assert reader.keys() == sorted(ROUND_TRIP_VALUES)
        for name, value in ROUND_TRIP_VALUES.items():
            got = reader.read(name)
            assert got.dtype == value.dtype and got.shape == value.shape, name
            if value.dtype == object:
                assert got.tolist() == value.tolist()
            else:
                assert got.tobytes() == value.tobytes(), name
        big = reader.read("big")
        assert not big.flags.writeable
        assert not big.flags.owndata  # a view of the shard's memory map, not a copy


def test_writer_multi_shard_and_slices(tmp_path) -> None:
    prefix = tmp_path / "ms"
    full = np.arange(20, dtype=np.int32).reshape(5, 4)
    with BundleWriter(prefix, num_shards=2) as writer:
        writer.add("a", np.ones(3, np.float32))
        writer.add("b", np.zeros(5, np.float32))
        writer.add_slice("p", [5, 4], [(0, 2), (0, None)], full[:2])
        writer.add_slice("p", [5, 4], [(2, 3), (0, 4)], full[2:])
    with BundleReader(prefix) as reader:
        assert reader.num_shards == 2
        assert reader.keys() == ["a", "b", "p"]
        np.testing.assert_array_equal(reader.read("p"), full)
        assert {e.shard_id for e in reader.entries().values()} == {0, 1}


def test_writer_refuses_clobber_and_duplicates(tmp_path) -> None:
    prefix = tmp_path / "c"
    bundle.write_bundle(prefix, {"x": np.ones(2)})
    with pytest.raises(PolicyError):
        BundleWriter(prefix)
    bundle.write_bundle(prefix, {"x": np.zeros(2)}, overwrite=True)
    assert bundle.read_bundle(prefix)["x"].tolist() == [0.0, 0.0]
    writer = BundleWriter(tmp_path / "d")
    writer.add("x", 1.0)
    with pytest.raises(FormatError, match="twice"):
        writer.add("x", 2.0)
    writer.abort()
    assert list(tmp_path.glob("d*")) == [] and list(tmp_path.glob(".d*")) == []


def test_failed_write_leaves_nothing(tmp_path) -> None:
    with pytest.raises(FormatError):
        with BundleWriter(tmp_path / "e") as writer:
            writer.add("ok", np.ones(2))
            writer.add("bad", object())
    assert list(tmp_path.iterdir()) == []


def test_unknown_key_is_not_found() -> None:
    with BundleReader(SEED / "multiply_values.ckpt") as reader:
        with pytest.raises(NotFoundError, match="nope"):
            reader.read("nope")


def test_parse_shape_and_slice() -> None:
    assert bundle.parse_shape_and_slice("10 4 0,4:-") == ([10, 4], [(0, 4), (0, None)])
    assert bundle.parse_shape_and_slice("7 -") == ([7], [(0, None)])
    for bad in ("", "10 4 0,4", "3 0,5", "x -"):
        with pytest.raises(FormatError):
            bundle.parse_shape_and_slice(bad)
