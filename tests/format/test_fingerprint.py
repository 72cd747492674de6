"""fingerprint.pb: reading, and computing every hash exactly as TensorFlow 2.21 wrote it."""

from __future__ import annotations

import shutil

import pytest

from savedmodel.errors import FormatError
from savedmodel.format import fingerprint, saved_model
from savedmodel.proto import function_pb2

from .helpers import FORMAT, SEED, golden

FINGERPRINTED = sorted(p.parent for p in [*FORMAT.glob("*/fingerprint.pb"), *SEED.glob("*/fingerprint.pb")])
FIELDS = ("saved_model_checksum", "graph_def_program_hash", "signature_def_hash", "saved_object_graph_hash")


@pytest.mark.parametrize("export_dir", FINGERPRINTED, ids=lambda p: p.name)
def test_computed_fingerprint_equals_tensorflows(export_dir) -> None:
    stored = fingerprint.read_fingerprint(export_dir)
    ours = fingerprint.compute_fingerprint(export_dir)
    for field in (*FIELDS, "checkpoint_hash"):
        assert getattr(ours, field) == getattr(stored, field), field
    assert ours.singleprint() == stored.singleprint()
    assert stored.version == ours.version == fingerprint.FINGERPRINT_PRODUCER


@pytest.mark.parametrize("name", sorted(golden()["fingerprints"]))
def test_read_fingerprint_matches_tf_reader(name: str) -> None:
    expected = golden()["fingerprints"][name]
    stored = fingerprint.read_fingerprint(FORMAT / name)
    for field in (*FIELDS, "checkpoint_hash"):
        assert getattr(stored, field) == expected[field]
    assert stored.singleprint() == expected["singleprint"]


def test_farmhash_and_cat64_known_values() -> None:
    # values TF's tf.fingerprint / Fingerprint64 produced for these inputs
    assert fingerprint.fingerprint64(b"hello") == 13009744463427800296
    assert fingerprint.fingerprint64(b"\x12\x00\x22\x00") == 1826355931633539578
    assert fingerprint.fingerprint_cat64(0, 0) != 0


def test_cpp_map_order() -> None:
    function = function_pb2.FunctionDef()
    for key in (0, 1, 300):
        function.resource_arg_unique_id[key] = key
    function.ret["identity"] = "a"
    function.ret["identity_1"] = "b"
    proto = saved_model.saved_model_pb2.SavedModel()
    proto.meta_graphs.add().graph_def.library.function.add().CopyFrom(function)
    data = fingerprint.serialize_like_cpp(proto)
    reparsed = saved_model.saved_model_pb2.SavedModel()
    reparsed.ParseFromString(data)
    assert reparsed == proto
    # C++ order: "identity" before "identity_1", integer keys ascending (upb writes both the other way)
    assert data.index(b"identity_1") > data.index(b"\x0a\x08identity")
    assert data.index(b"\x08\x00\x10\x00") < data.index(b"\x08\xac\x02\x10\xac\x02")


def test_regularization_ignores_uids_and_string_consts() -> None:
    graph = saved_model.read_saved_model(SEED / "tf2-save").meta_graphs[0].graph_def
    before = fingerprint.graph_def_program_hash(graph)
    changed = type(graph)()
    changed.CopyFrom(graph)
    for node in changed.node:
        if node.op == "StatefulPartitionedCall":
            node.attr["f"].func.name = node.attr["f"].func.name.rsplit("_", 1)[0] + "_999"
            node.attr["config_proto"].s = b"other device config"
        if node.op == "Const":
            node.attr["value"].tensor.string_val[:] = [b"different"]
    changed.versions.producer += 1
    assert fingerprint.graph_def_program_hash(changed) == before
    changed.node[0].name += "_renamed"
    assert fingerprint.graph_def_program_hash(changed) != before


def test_write_fingerprint(tmp_path) -> None:
    target = tmp_path / "model"
    shutil.copytree(SEED / "tf2-save", target)
    (target / "fingerprint.pb").unlink()
    fingerprint.write_fingerprint(target)
    written = fingerprint.read_fingerprint(target)
    stored = fingerprint.read_fingerprint(SEED / "tf2-save")
    assert written.singleprint() == stored.singleprint()
    assert written.saved_model_checksum == stored.saved_model_checksum
    assert len(written.uuid) >= 30 and written.uuid != stored.uuid


def test_missing_or_bad_fingerprint(tmp_path) -> None:
    with pytest.raises(FormatError, match="no fingerprint file"):
        fingerprint.read_fingerprint(tmp_path)
    (tmp_path / "fingerprint.pb").write_bytes(b"\xff\xff\xff")
    with pytest.raises(FormatError, match="not a valid FingerprintDef"):
        fingerprint.read_fingerprint(tmp_path)
