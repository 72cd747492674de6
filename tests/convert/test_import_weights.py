"""`savedmodel import-weights`: variables replaced from an .npz/.safetensors file, names, dtypes
and shapes checked, every other file byte for byte; TensorFlow reads the imported values."""

from __future__ import annotations

from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import savedmodel
from savedmodel.cli.main import main
from savedmodel.convert import tf1_to_tf2
from savedmodel.convert.weights import export_weights, import_weights, load_npz
from savedmodel.errors import InvalidInputError
from savedmodel.format import checkpoint as ckpt
from savedmodel.format import fingerprint
from tests.conftest import FIXTURES, run_oracle_json

CONVERT = FIXTURES / "convert"
NEW_W = np.float32([[1, 0], [0, 1], [2, 2]])


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tf2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("weights") / "tf2"
    tf1_to_tf2(CONVERT / "table_asset", out)  # assets too: they must be copied untouched
    return out


@pytest.fixture(scope="module")
def builder_tf2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("weights") / "builder"
    tf1_to_tf2(CONVERT / "builder_ref", out)
    return out


def test_round_trip_changes_only_the_bundle(tmp_path: Path, builder_tf2: Path) -> None:
    export_weights(builder_tf2, tmp_path / "w.npz")
    weights = load_npz(tmp_path / "w.npz")
    weights["w"] = NEW_W
    del weights["global_step"]
    np.savez(tmp_path / "new.npz", **weights)
    out = tmp_path / "out"
    args = ["import-weights", "--dir", str(builder_tf2), "--weights", str(tmp_path / "new.npz")]
    assert main([*args, "--output_dir", str(out), "--json"]) == 0
    model = savedmodel.load(out)
    np.testing.assert_array_equal(model.w.numpy(), NEW_W)
    assert int(model.global_step.numpy()) == 0  # kept
    result = model.signatures["serving_default"](x=np.float32([[1, 2, 3]]))["y"]
    np.testing.assert_allclose(result, np.float32([[1, 2, 3]]) @ NEW_W + np.float32([0.5, -1.0]))
    before, after = _files(builder_tf2), _files(out)
    assert before.keys() == after.keys()
    changed = sorted(k for k in before if before[k] != after[k])
    assert changed == [
        "fingerprint.pb",
        "variables/variables.data-00000-of-00001",
        "variables/variables.index",
    ]
    assert fingerprint.read_fingerprint(out) == fingerprint.compute_fingerprint(
        out, uuid=fingerprint.read_fingerprint(out).uuid
    )


def test_assets_and_graph_untouched(tmp_path: Path, tf2: Path) -> None:
    import_weights(tf2, {"offset": np.int64(100)}, output_dir=tmp_path / "out")
    model = savedmodel.load(tmp_path / "out")
    ids = model.signatures["serving_default"](words=np.array([b"banana", b"kiwi"], dtype=object))["ids"]
    assert ids.tolist() == [101, 99]
    for name in ("saved_model.pb", "assets/_vocab.txt"):
        assert (tmp_path / "out" / name).read_bytes() == (tf2 / name).read_bytes()


def test_mismatches_are_refused(
    tmp_path: Path, builder_tf2: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidInputError, match="not variables of .*: nope"):
        import_weights(builder_tf2, {"nope": np.float32(1)}, output_dir=tmp_path / "a")
    with pytest.raises(InvalidInputError, match=r"w: shape \[2, 2\], the variable's is \[3, 2\]"):
        import_weights(builder_tf2, {"w": np.zeros((2, 2), np.float32)}, output_dir=tmp_path / "a")
    with pytest.raises(InvalidInputError, match="w: dtype float64, the variable's is float32"):
        import_weights(builder_tf2, {"w": NEW_W.astype(np.float64)}, output_dir=tmp_path / "a")
    with pytest.raises(InvalidInputError, match="the weights lack b, global_step"):
        import_weights(builder_tf2, {"w": NEW_W}, output_dir=tmp_path / "a", strict=True)
    assert not (tmp_path / "a").exists()
    np.savez(tmp_path / "x.npz", w=np.zeros((1,), np.float32))
    args = ["import-weights", "--dir", str(builder_tf2), "--weights", str(tmp_path / "x.npz")]
    assert main([*args, "--output_dir", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "shape [1]" in err
    assert main([*args, "--output_dir", str(builder_tf2), "--overwrite"]) == 1  # never the source


def _bf16_checkpoint(tmp_path: Path) -> Path:
    prefix = tmp_path / "ckpt" / "model.ckpt"
    prefix.parent.mkdir(parents=True)
    values = {
        "emb": np.arange(6, dtype=np.float32).reshape(2, 3).astype(ml_dtypes.bfloat16),
        "step": np.int64(7),
        "vocab": np.array([b"a", b"bc"], dtype=object),
    }
    ckpt.write_checkpoint(prefix, values)
    return prefix


IMPORTED_EMB = np.float32([[0.5, -1.25, 3.0], [1e3, 0.0078125, -2.0]])


def test_bfloat16_and_strings_into_a_checkpoint(tmp_path: Path) -> None:
    """The .npz stores bfloat16 as its bits with the dtype recorded (export_weights); importing
    it gives the bfloat16 values back."""
    prefix = _bf16_checkpoint(tmp_path)
    new = {
        "emb": IMPORTED_EMB.astype(ml_dtypes.bfloat16),
        "step": np.int64(8),
        "vocab": np.array([b"xyz", b""], dtype=object),
    }
    ckpt.write_checkpoint(tmp_path / "src" / "m", new)
    export_weights(tmp_path / "src" / "m", tmp_path / "new.npz")
    out = tmp_path / "out" / "model.ckpt"
    args = ["import-weights", "--dir", str(prefix), "--weights", str(tmp_path / "new.npz")]
    assert main([*args, "--checkpoint", str(out), "--strict"]) == 0
    with ckpt.CheckpointReader(out) as reader:
        assert reader.dtype_name("emb") == "bfloat16"
        np.testing.assert_array_equal(reader.get_tensor("emb").astype(np.float32), IMPORTED_EMB)
        assert reader.get_tensor("vocab").tolist() == [b"xyz", b""]
        assert int(reader.get_tensor("step")) == 8
    # bfloat16 as its bits with no recorded dtype: refused with a hint
    with pytest.raises(InvalidInputError, match="bfloat16 stored as its bits"):
        import_weights(prefix, {"emb": np.zeros((2, 3), np.uint16)}, checkpoint=tmp_path / "o2" / "m")


@pytest.mark.skipif(
    not __import__("importlib").util.find_spec("safetensors"),
    reason="the safetensors package is not installed",
)
def test_safetensors_import(tmp_path: Path) -> None:
    prefix = tmp_path / "ckpt" / "model.ckpt"
    prefix.parent.mkdir(parents=True)
    ckpt.write_checkpoint(prefix, {"emb": np.zeros((2, 3), ml_dtypes.bfloat16), "step": np.int64(7)})
    export_weights(prefix, tmp_path / "w.safetensors", fmt="safetensors")
    ckpt.write_checkpoint(
        tmp_path / "src" / "m", {"emb": IMPORTED_EMB.astype(ml_dtypes.bfloat16), "step": np.int64(9)}
    )
    export_weights(tmp_path / "src" / "m", tmp_path / "new.safetensors", fmt="safetensors")
    import_weights(prefix, tmp_path / "new.safetensors", checkpoint=tmp_path / "out" / "m")
    with ckpt.CheckpointReader(tmp_path / "out" / "m") as reader:
        np.testing.assert_array_equal(reader.get_tensor("emb").astype(np.float32), IMPORTED_EMB)
        assert int(reader.get_tensor("step")) == 9


@pytest.mark.oracle
def test_tensorflow_reads_imported_values(tmp_path: Path, builder_tf2: Path, oracle_python: Path) -> None:
    """TF 2.21: tf.saved_model.load of the imported SavedModel, and tf.train.load_checkpoint
    of an imported bfloat16 checkpoint, hold the imported values."""
    import_weights(builder_tf2, {"w": NEW_W}, output_dir=tmp_path / "model")
    prefix = _bf16_checkpoint(tmp_path)
    import_weights(prefix, {"emb": IMPORTED_EMB.astype(ml_dtypes.bfloat16)}, checkpoint=tmp_path / "c" / "m")
    code = (
        "import json, sys, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "r = tf.train.load_checkpoint(sys.argv[2])\n"
        "y = m.signatures['serving_default'](x=tf.constant([[1.0, 2.0, 3.0]]))['y']\n"
        "print(json.dumps({'vars': {v.name: v.numpy().tolist() for v in m.variables},\n"
        "  'y': y.numpy().tolist(), 'emb': r.get_tensor('emb').astype('float32').tolist(),\n"
        "  'emb_dtype': r.get_variable_to_dtype_map()['emb'].name}))\n"
    )
    got = run_oracle_json(code, str(tmp_path / "model"), str(tmp_path / "c" / "m"))
    assert got["vars"]["w:0"] == NEW_W.tolist() and got["vars"]["b:0"] == [0.5, -1.0]
    np.testing.assert_allclose(got["y"], np.float32([[1, 2, 3]]) @ NEW_W + np.float32([0.5, -1.0]))
    assert got["emb_dtype"] == "bfloat16" and got["emb"] == IMPORTED_EMB.tolist()
