"""V1 checkpoints (SavedTensorSlices SSTables): reading TF-written files, writing TF-readable ones,
and the Save/SaveSlices/Restore/RestoreSlice kernels against TensorFlow's outputs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import savedmodel
from savedmodel.errors import FormatError, PolicyError
from savedmodel.format import sstable
from savedmodel.format.checkpoint_v1 import (
    V1CheckpointReader,
    encode_v1_checkpoint,
    is_v1_checkpoint,
    write_v1_checkpoint,
)
from savedmodel.policy import Policy
from savedmodel.proto import saved_tensor_slice_pb2

from .helpers import LEGACY, REALWORLD, assert_equal_golden, decode, goldens

HALF_PLUS_TWO_2016 = REALWORLD / "tfserving__half_plus_two__2016_27a9c35" / "export"


@pytest.mark.parametrize(
    ("name", "pattern"), [("v1_sliced", "v1_sliced"), ("v1_sharded", "v1_sharded-?????-of-00002")]
)
def test_reads_tensorflow_written_files(name: str, pattern: str) -> None:
    reader = V1CheckpointReader(LEGACY / pattern)
    expected = goldens()["v1_files"][name]
    assert reader.keys() == sorted(expected)
    for key, entry in expected.items():
        assert_equal_golden(reader.read(key), entry, f"{name} {key}")


def test_reads_a_slice_of_a_partitioned_tensor() -> None:
    reader = V1CheckpointReader(LEGACY / "v1_sliced")
    assert reader.shape("part") == (4, 3)
    entry = goldens()["v1_files"]["v1_sliced_parts"]["1 4 3 1,2:0,2"]
    assert_equal_golden(reader.read("part", [(1, 2), (0, 2)]), entry, "part[1:3, 0:2]")


def test_reads_tf_servings_2016_export() -> None:
    assert is_v1_checkpoint(HALF_PLUS_TWO_2016)
    values = V1CheckpointReader(HALF_PLUS_TWO_2016).read_all()
    assert {k: (v.dtype, v.shape, float(v)) for k, v in values.items()} == {
        "Variable": (np.float32, (), 0.5),
        "Variable_1": (np.float32, (), 2.0),
    }


def test_a_v2_index_is_not_a_v1_checkpoint() -> None:
    assert not is_v1_checkpoint(REALWORLD / "tfserving__half_plus_two2__2017_6058fd6" / "export.index")


def test_writer_is_byte_identical_to_tensorflow() -> None:
    """TF Serving's 2016 export (written by SaveSlices) re-encoded from its own values."""
    ours = encode_v1_checkpoint(
        [("Variable", np.float32(0.5), None, None), ("Variable_1", np.float32(2.0), None, None)]
    )
    assert ours == HALF_PLUS_TWO_2016.read_bytes()


def test_write_read_round_trip(tmp_path: Path) -> None:
    full = np.arange(20, dtype=np.int64).reshape(5, 4)
    path = write_v1_checkpoint(
        tmp_path / "ckpt",
        [
            ("m", full[:2], [(0, 2), (0, None)], [5, 4]),
            ("m", full[2:], [(2, 3), (0, None)], [5, 4]),
            ("s", np.array([[b"x"], [b"\xff\x00"]], dtype=object), None, None),
            ("h", np.array([1.5, -0.25], dtype=np.float16), None, None),
        ],
    )
    reader = V1CheckpointReader(path)
    np.testing.assert_array_equal(reader.read("m"), full)
    assert reader.read("s").tolist() == [[b"x"], [b"\xff\x00"]]
    assert reader.read("h").dtype == np.float16
    np.testing.assert_array_equal(reader.read("m", [(1, 3), (2, None)]), full[1:4, 2:])


def test_uncovered_part_is_an_error(tmp_path: Path) -> None:
    full = np.ones((4, 2), dtype=np.float32)
    path = write_v1_checkpoint(tmp_path / "ckpt", [("m", full[:2], [(0, 2), (0, None)], [4, 2])])
    reader = V1CheckpointReader(path)
    np.testing.assert_array_equal(reader.read("m", [(0, 2), (0, None)]), full[:2])
    with pytest.raises(FormatError, match="do not cover"):
        reader.read("m")


def test_missing_slice_entry_is_an_error(tmp_path: Path) -> None:
    """A meta entry naming a slice whose data entry is absent (a damaged file)."""
    entries = [(k, v) for k, v in sstable.TableReader(HALF_PLUS_TWO_2016).items() if k in (b"",)]
    path = tmp_path / "damaged"
    with path.open("wb") as stream:
        sstable.write_table(stream, entries)
    with pytest.raises(FormatError, match="missing"):
        V1CheckpointReader(path).read("Variable")


def test_not_a_v1_table(tmp_path: Path) -> None:
    path = tmp_path / "other"
    message = saved_tensor_slice_pb2.SavedTensorSlices()
    with path.open("wb") as stream:
        sstable.write_table(stream, [(b"a", message.SerializeToString())])
    assert not is_v1_checkpoint(path)
    with pytest.raises(FormatError, match="no meta entry"):
        V1CheckpointReader(path)
    with pytest.raises(FormatError, match="no V1 checkpoint file matches"):
        V1CheckpointReader(tmp_path / "none-?????-of-00001")


# --------------------------------------------------------------------------- kernels


def test_checkpoint_ops_model_matches_tensorflow(tmp_path: Path) -> None:
    """Save, SaveSlices, Restore, RestoreSlice and RestoreV2 (on V1 files) in a TF-made graph."""
    case = goldens()["v1_ops"]["save_restore"]
    model = savedmodel.load(LEGACY / "v1_checkpoint_ops", policy=Policy(allow_file_access=True))
    prefix = np.asarray(str(tmp_path / "ckpt").encode(), dtype=object)
    result = model.signatures["save_restore"](prefix=prefix, x=decode(case["x"]))
    assert set(result) == set(case["outputs"])
    for key, entry in case["outputs"].items():
        assert_equal_golden(result[key], entry, key)
    assert is_v1_checkpoint(tmp_path / "ckpt_whole") and is_v1_checkpoint(tmp_path / "ckpt_parts")


def test_checkpoint_ops_confined_without_file_access(tmp_path: Path) -> None:
    case = goldens()["v1_ops"]["save_restore"]
    model = savedmodel.load(LEGACY / "v1_checkpoint_ops")  # loads: checkpoint ops are not refused
    prefix = np.asarray(str(tmp_path / "ckpt").encode(), dtype=object)
    with pytest.raises(PolicyError, match="outside"):
        model.signatures["save_restore"](prefix=prefix, x=decode(case["x"]))
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- TensorFlow reads ours

TF_READ_SCRIPT = """
import json, sys
import tensorflow as tf
out = {}
for name, dt in [("m", tf.int64), ("s", tf.string), ("f", tf.float32)]:
    value = tf.raw_ops.Restore(file_pattern=sys.argv[1], tensor_name=name, dt=dt).numpy()
    out[name] = [v.decode() if isinstance(v, bytes) else v for v in value.reshape(-1).tolist()]
corner = tf.raw_ops.RestoreSlice(file_pattern=sys.argv[1], tensor_name="m", shape_and_slice="3 2 1,2:1,1",
                                 dt=tf.int64).numpy()
out["corner"] = corner.reshape(-1).tolist()
print(json.dumps(out))
"""


@pytest.mark.oracle
def test_tensorflow_reads_what_we_write(oracle_python: Path, tmp_path: Path) -> None:
    full = np.arange(6, dtype=np.int64).reshape(3, 2)
    path = write_v1_checkpoint(
        tmp_path / "ours",
        [
            ("m", full[:1], [(0, 1), (0, None)], [3, 2]),
            ("m", full[1:], [(1, 2), (0, None)], [3, 2]),
            ("s", np.array([b"a", b"bc"], dtype=object), None, None),
            ("f", np.float32(1.25), None, None),
        ],
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [str(oracle_python), "-c", TF_READ_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"m": [0, 1, 2, 3, 4, 5], "s": ["a", "bc"], "f": [1.25], "corner": [3, 5]}


def test_checkpoint_reader_reads_v1_files_and_bundles() -> None:
    """tf.train.load_checkpoint / list_variables equivalents accept V1 files, shard patterns and bundles."""
    from savedmodel.format.checkpoint import CheckpointReader, list_variables

    assert list_variables(HALF_PLUS_TWO_2016) == [("Variable", []), ("Variable_1", [])]
    sharded = REALWORLD / "tfserving__session_bundle_testdata_half_plus_two__2019_1bdd349"
    assert list_variables(sharded) == [("a", []), ("b", [])]
    expected = goldens()["v1_files"]["v1_sharded"]
    with CheckpointReader(LEGACY / "v1_sharded-?????-of-00002") as reader:
        assert sorted(reader.variable_to_shape_map()) == sorted(expected)
        assert not reader.is_object_based
        for key, entry in expected.items():
            assert_equal_golden(reader.get_tensor(key), entry, key)
