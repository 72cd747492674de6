"""Corrupt or missing files give a typed FormatError naming the file (and tensor)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from savedmodel.errors import FormatError
from savedmodel.format import bundle, saved_model
from savedmodel.format.bundle import BundleReader

from .helpers import FORMAT, SEED


@pytest.fixture
def ckpt(tmp_path):
    """A copy of a small TF-written bundle whose tensor 'v' is 3.0."""
    for path in SEED.glob("multiply_values.ckpt.*"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path / "multiply_values.ckpt"


def test_missing_index(tmp_path) -> None:
    with pytest.raises(FormatError, match=r"index file not found: .*nothing\.index"):
        BundleReader(tmp_path / "nothing")


def test_missing_shard(ckpt) -> None:
    bundle.data_path(ckpt, 0, 1).unlink()
    with BundleReader(ckpt) as reader:
        with pytest.raises(FormatError, match=r"data-00000-of-00001.*'v'.*not found"):
            reader.read("v")


def test_bad_footer_magic(ckpt) -> None:
    index = bundle.index_path(ckpt)
    data = bytearray(index.read_bytes())
    data[-8:] = b"\0" * 8
    index.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"multiply_values\.ckpt\.index.*magic"):
        BundleReader(ckpt)


def test_truncated_index(ckpt) -> None:
    index = bundle.index_path(ckpt)
    index.write_bytes(index.read_bytes()[:30])
    with pytest.raises(FormatError, match=r"\.index"):
        BundleReader(ckpt)


def test_crc_mismatch(ckpt) -> None:
    data_file = bundle.data_path(ckpt, 0, 1)
    data = bytearray(data_file.read_bytes())
    data[0] ^= 1
    data_file.write_bytes(bytes(data))
    with BundleReader(ckpt) as reader:
        with pytest.raises(FormatError, match=r"data-00000-of-00001: tensor 'v': checksum mismatch"):
            reader.read("v")
    with BundleReader(ckpt, verify_checksums=False) as reader:
        assert reader.read("v") != 3.0


def test_crc_mismatch_in_string_tensor(tmp_path) -> None:
    prefix = tmp_path / "s"
    bundle.write_bundle(prefix, {"s": np.array([b"abc", b"de"], dtype=object)})
    data_file = bundle.data_path(prefix, 0, 1)
    data = bytearray(data_file.read_bytes())
    data[-1] ^= 1  # inside the string bytes
    data_file.write_bytes(bytes(data))
    with BundleReader(prefix) as reader:
        with pytest.raises(FormatError, match="tensor 's': checksum mismatch"):
            reader.read("s")


def test_truncated_data_file(ckpt) -> None:
    data_file = bundle.data_path(ckpt, 0, 1)
    data_file.write_bytes(data_file.read_bytes()[:2])
    with BundleReader(ckpt) as reader:
        with pytest.raises(FormatError, match=r"tensor 'v'.*runs past the end.*truncated"):
            reader.read("v")


def test_garbage_saved_model_pb(tmp_path) -> None:
    (tmp_path / "saved_model.pb").write_bytes(b"\xff\xfe garbage \x00\x01" * 10)
    with pytest.raises(FormatError, match=r"saved_model\.pb"):
        saved_model.read_saved_model(tmp_path)


def test_truncated_saved_model_pb(tmp_path) -> None:
    data = (FORMAT / "tf2-dtypes" / "saved_model.pb").read_bytes()
    (tmp_path / "saved_model.pb").write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"saved_model\.pb"):
        saved_model.read_saved_model(tmp_path)


def test_empty_and_missing_saved_model(tmp_path) -> None:
    with pytest.raises(FormatError, match="does not exist"):
        saved_model.read_saved_model(tmp_path / "absent")
    with pytest.raises(FormatError, match="no saved_model.pb"):
        saved_model.read_saved_model(tmp_path)
    (tmp_path / "saved_model.pb").write_bytes(b"")
    with pytest.raises(FormatError, match="no MetaGraphDef"):
        saved_model.read_saved_model(tmp_path)


@pytest.mark.parametrize("seed", range(3))
def test_random_corruption_only_raises_typed_errors(tmp_path, seed) -> None:
    """Flipped, cut or inserted bytes in index or data: a result or a SavedModelError, nothing else."""
    import random

    from savedmodel.errors import SavedModelError
    from savedmodel.format.checkpoint import CheckpointReader

    sources = [
        FORMAT / "tf2-dtypes" / "variables",
        FORMAT / "multi-shard-ckpt",
        FORMAT / "tf1-partitioned-ckpt",
    ]
    rng = random.Random(seed)
    for trial in range(60):
        work = tmp_path / f"t{trial}"
        shutil.copytree(rng.choice(sources), work)
        victim = rng.choice(sorted(p for p in work.iterdir() if ".index" in p.name or ".data-" in p.name))
        data = bytearray(victim.read_bytes())
        mode = rng.randrange(3)
        if mode == 0:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif mode == 1:
            del data[rng.randrange(len(data) + 1) :]
        else:
            at = rng.randrange(len(data) + 1)
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        victim.write_bytes(bytes(data))
        prefix = str(next(work.glob("*.index")))[: -len(".index")]
        try:
            with BundleReader(prefix, verify_checksums=rng.random() < 0.5) as reader:
                for key in reader.keys():
                    reader.read(key)
            with CheckpointReader(prefix) as checkpoint_reader:
                checkpoint_reader.variables_of_object_graph()
        except SavedModelError:
            pass
