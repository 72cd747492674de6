"""TF Serving session bundles load up-converted to SavedModels and match TensorFlow.

Goldens: tools/oracle/make_legacy_format_goldens.py runs each bundle in TensorFlow 2.21 the
way TF Serving's session-bundle loader did (restore op fed `export` or the shard pattern,
then serving_init_op with the assets fed) and the tensors of the SignatureDef TF Serving's
bundle shim derives.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import any_pb2

import savedmodel
from savedmodel.errors import ExecutionError, FormatError, PolicyError
from savedmodel.format import saved_model as saved_model_format
from savedmodel.format import session_bundle
from savedmodel.proto import meta_graph_pb2, session_bundle_manifest_pb2

from .helpers import REALWORLD, assert_equal_golden, decode, goldens

BUNDLES = sorted(goldens()["session_bundles"])


@pytest.fixture(scope="module")
def loaded() -> dict:
    return {name: savedmodel.load(REALWORLD / name) for name in BUNDLES}


def test_all_bundles_are_covered() -> None:
    assert len(BUNDLES) == 6
    assert all(session_bundle.is_session_bundle(REALWORLD / name) for name in BUNDLES)


@pytest.mark.parametrize("name", BUNDLES)
def test_signature_def_is_up_converted_as_tf_serving_does(loaded: dict, name: str) -> None:
    case = goldens()["session_bundles"][name]
    model = loaded[name]
    assert model.tags == ["serve"]
    if not case["inputs"]:
        assert dict(model.signatures) == {}
        return
    assert sorted(model.signatures) == ["serving_default"]
    signature_def = model.signatures["serving_default"].signature_def
    assert signature_def.method_name == case["method"]
    assert {k: v.name for k, v in signature_def.inputs.items()} == case["inputs"]
    assert {k: v.name for k, v in signature_def.outputs.items()} == case["outputs"]


@pytest.mark.parametrize("name", BUNDLES)
def test_outputs_match_tensorflow(loaded: dict, name: str) -> None:
    case = goldens()["session_bundles"][name]
    if "feed" not in case:
        pytest.skip("no signature to run")
    feed = {k: decode(v) for k, v in case["feed"].items()}
    result = loaded[name].signatures["serving_default"](**feed)
    assert set(result) == set(case["results"])
    for key, entry in case["results"].items():
        assert_equal_golden(result[key], entry, f"{name} {key}")


@pytest.mark.parametrize("name", BUNDLES)
def test_restored_and_initialized_variables_match_tensorflow(loaded: dict, name: str) -> None:
    """The restore op (V1 RestoreSlice, V2 RestoreV2, RestoreV2 on V1 shards) and serving_init_op."""
    session = loaded[name].session
    export_dir = str((REALWORLD / name).resolve()).encode()
    for variable, entry in goldens()["session_bundles"][name]["variables"].items():
        if entry is None:  # neither in the checkpoint nor initialized by TF Serving's loader
            with pytest.raises(ExecutionError, match="uninitialized"):
                session.run([f"{variable}:0"], {})
            continue
        (value,) = session.run([f"{variable}:0"], {})
        if value.dtype == object:
            value = np.asarray(value.item().replace(export_dir, b"<export_dir>"), dtype=object)
        assert_equal_golden(value, entry, f"{name} {variable}")


def test_restore_feeds(tmp_path: Path) -> None:
    one_file = REALWORLD / "tfserving__half_plus_two__2016_27a9c35"
    sharded = REALWORLD / "tfserving__session_bundle_testdata_half_plus_two__2019_1bdd349"
    v2 = REALWORLD / "tfserving__half_plus_two2__2017_6058fd6"
    assert session_bundle.variables_filename(one_file) == one_file / "export"
    assert session_bundle.variables_filename(v2) == v2 / "export"
    assert session_bundle.variables_filename(sharded) == sharded / "export-?????-of-?????"


def test_read_saved_model_and_cli_see_the_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    from savedmodel.cli.main import main

    path = REALWORLD / "tfserving__half_plus_two__2016_27a9c35"
    proto = saved_model_format.read_saved_model(path)
    assert [list(m.meta_info_def.tags) for m in proto.meta_graphs] == [["serve"]]
    rc = main(
        [
            "run",
            "--dir",
            str(path),
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--input_exprs",
            "x=[1.0, 2.0, 5.0]",
        ]
    )
    assert rc in (0, None)
    assert "Result for output key y:\n[2.5 3.  4.5]" in capsys.readouterr().out


def _copy_bundle(tmp_path: Path, name: str) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(REALWORLD / name, target)
    return target


def _rewrite_meta(path: Path, edit) -> None:
    meta_graph = meta_graph_pb2.MetaGraphDef()
    meta_graph.ParseFromString((path / "export.meta").read_bytes())
    edit(meta_graph)
    (path / "export.meta").write_bytes(meta_graph.SerializeToString())


def _set_signatures(meta_graph: meta_graph_pb2.MetaGraphDef, signatures) -> None:
    collection = meta_graph.collection_def["serving_signatures"].any_list
    del collection.value[:]
    item = any_pb2.Any(type_url="type.googleapis.com/tensorflow.serving.Signatures")
    item.value = signatures.SerializeToString()
    collection.value.append(item)


def test_classification_default_signature(tmp_path: Path) -> None:
    path = _copy_bundle(tmp_path, "tfserving__half_plus_two__2016_27a9c35")
    signatures = session_bundle_manifest_pb2.Signatures()
    classification = signatures.default_signature.classification_signature
    classification.input.tensor_name = "Placeholder:0"
    classification.scores.tensor_name = "Add:0"
    _rewrite_meta(path, lambda m: _set_signatures(m, signatures))
    model = savedmodel.load(path)
    signature_def = model.signatures["serving_default"].signature_def
    assert signature_def.method_name == "tensorflow/serving/classify"
    assert {k: v.name for k, v in signature_def.outputs.items()} == {"scores": "Add:0"}
    result = model.signatures["serving_default"](inputs=np.array([2.0], np.float32))
    np.testing.assert_array_equal(result["scores"], np.array([3.0], np.float32))


def test_generic_default_signature_is_refused(tmp_path: Path) -> None:
    path = _copy_bundle(tmp_path, "tfserving__half_plus_two__2016_27a9c35")
    signatures = session_bundle_manifest_pb2.Signatures()
    signatures.default_signature.generic_signature.map["x"].tensor_name = "Placeholder:0"
    _rewrite_meta(path, lambda m: _set_signatures(m, signatures))
    with pytest.raises(FormatError, match="only classification and regression default signatures"):
        savedmodel.load(path)


def test_wrong_any_type_is_refused(tmp_path: Path) -> None:
    path = _copy_bundle(tmp_path, "tfserving__half_plus_two__2016_27a9c35")

    def edit(meta_graph: meta_graph_pb2.MetaGraphDef) -> None:
        meta_graph.collection_def["serving_signatures"].any_list.value[0].type_url = "x/tensorflow.GraphDef"

    _rewrite_meta(path, edit)
    with pytest.raises(FormatError, match="serving_signatures"):
        savedmodel.load(path)


def test_restore_stays_inside_the_bundle(tmp_path: Path) -> None:
    """The bundle's own checkpoint ops run; a Save aimed outside the model is refused."""
    path = _copy_bundle(tmp_path, "tfserving__half_plus_two__2016_27a9c35")
    model = savedmodel.load(path)
    saver = model.meta_graph.saver_def
    outside = tmp_path / "elsewhere"
    with pytest.raises(PolicyError, match="outside"):
        model.session.run(
            [saver.save_tensor_name],
            {saver.filename_tensor_name: np.asarray(str(outside).encode(), dtype=object)},
        )
    assert not outside.exists()
    # Saving into the bundle's own directory is its own checkpoint: allowed, and TF-readable by us.
    inside = path / "export-copy"
    model.session.run(
        [saver.save_tensor_name], {saver.filename_tensor_name: np.asarray(str(inside).encode(), dtype=object)}
    )
    from savedmodel.format.checkpoint_v1 import V1CheckpointReader

    assert {k: float(v) for k, v in V1CheckpointReader(inside).read_all().items()} == {
        "Variable": 0.5,
        "Variable_1": 2.0,
    }


@pytest.mark.parametrize("name", BUNDLES)
def test_compat_v1_saved_model_load(name: str) -> None:
    """savedmodel.compat.v1.saved_model.load(sess, ["serve"], bundle) restores and initializes too."""
    from savedmodel.compat import v1

    case = goldens()["session_bundles"][name]
    with v1.Session(graph=v1.Graph()) as sess:
        meta_graph = v1.saved_model.load(sess, ["serve"], str(REALWORLD / name))
        assert sorted(meta_graph.signature_def) == (["serving_default"] if case["inputs"] else [])
        for variable, entry in case["variables"].items():
            if entry is not None and entry["dtype"] == "float32":
                assert_equal_golden(sess.run(f"{variable}:0"), entry, f"{name} {variable}")
        if "feed" in case:
            ((key, tensor),) = case["inputs"].items()
            fetches = [case["outputs"][k] for k in sorted(case["results"])]
            values = sess.run(fetches, {tensor: decode(case["feed"][key])})
            for k, value in zip(sorted(case["results"]), values, strict=True):
                assert_equal_golden(value, case["results"][k], f"{name} {k}")


def test_compat_v1_import_meta_graph_and_restore_v1() -> None:
    """import_meta_graph(export.meta) + Saver.restore(sess, V1 file), as in TF's own docs of the era."""
    from savedmodel.compat import v1

    path = REALWORLD / "tfserving__half_plus_two__2016_27a9c35"
    with v1.Session(graph=v1.Graph()) as sess:
        saver = v1.train.import_meta_graph(str(path / "export.meta"))
        saver.restore(sess, str(path / "export"))
        assert sess.run("Add:0", {"Placeholder:0": np.array([1.0, 4.0], np.float32)}).tolist() == [2.5, 4.0]
