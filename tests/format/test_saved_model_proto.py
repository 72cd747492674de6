"""saved_model.pb, fingerprint.pb and keras_metadata.pb round trips through our proto schemas."""

from __future__ import annotations

import pytest

from savedmodel.errors import NotFoundError
from savedmodel.format import saved_model
from savedmodel.proto import fingerprint_pb2, saved_metadata_pb2

from .helpers import FORMAT, SEED, saved_model_dirs

DIRS = saved_model_dirs()
IDS = [str(d.relative_to(d.parents[1])) for d in DIRS]


@pytest.mark.parametrize("export_dir", DIRS, ids=IDS)
def test_saved_model_round_trip(export_dir, tmp_path) -> None:
    data = (export_dir / "saved_model.pb").read_bytes()
    proto = saved_model.read_saved_model(export_dir)
    # our schemas know every field TF wrote, and deterministic serialization reproduces TF's bytes
    proto.DiscardUnknownFields()
    assert saved_model.serialize_saved_model(proto) == data
    written = saved_model.write_saved_model(proto, tmp_path / "out")
    again = saved_model.read_saved_model(written)
    assert again == proto
    assert (written / "saved_model.pb").read_bytes() == data
    text_dir = saved_model.write_saved_model(proto, tmp_path / "text", as_text=True)
    assert saved_model.saved_model_file(text_dir).name == "saved_model.pbtxt"
    assert saved_model.read_saved_model(text_dir) == proto


@pytest.mark.parametrize(
    "path", sorted([*FORMAT.glob("*/fingerprint.pb"), *SEED.glob("*/fingerprint.pb")]), ids=str
)
def test_fingerprint_round_trip(path) -> None:
    proto = fingerprint_pb2.FingerprintDef()
    proto.ParseFromString(path.read_bytes())
    proto.DiscardUnknownFields()
    assert proto.SerializeToString(deterministic=True) == path.read_bytes()
    assert proto.saved_model_checksum and proto.version.producer >= 1


@pytest.mark.parametrize(
    "path", sorted([*FORMAT.glob("*/keras_metadata.pb"), *SEED.glob("*/keras_metadata.pb")]), ids=str
)
def test_keras_metadata_round_trip(path) -> None:
    proto = saved_metadata_pb2.SavedMetadata()
    proto.ParseFromString(path.read_bytes())
    proto.DiscardUnknownFields()
    assert proto.SerializeToString(deterministic=True) == path.read_bytes()
    assert proto.nodes and proto.nodes[0].identifier


def test_find_meta_graph() -> None:
    proto = saved_model.read_saved_model(FORMAT / "tf1-partitioned")
    assert saved_model.find_meta_graph(proto, "serve") is proto.meta_graphs[0]
    assert saved_model.find_meta_graph(proto, None) is proto.meta_graphs[0]
    with pytest.raises(NotFoundError, match="available tag sets: serve"):
        saved_model.find_meta_graph(proto, "train,gpu")


def test_write_refuses_clobber(tmp_path) -> None:
    from savedmodel.errors import PolicyError

    proto = saved_model.read_saved_model(SEED / "simple-save")
    saved_model.write_saved_model(proto, tmp_path / "m")
    with pytest.raises(PolicyError):
        saved_model.write_saved_model(proto, tmp_path / "m")
    saved_model.write_saved_model(proto, tmp_path / "m", overwrite=True)
