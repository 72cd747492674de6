"""`savedmodel convert` on the command line: TF1 -> TF2, signature edits that touch nothing
else, dry-run reports; `savedmodel export-weights`."""

from __future__ import annotations

import json
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import savedmodel
from savedmodel.cli.main import main
from savedmodel.convert.signatures import edit_signatures
from savedmodel.convert.weights import load_npz
from savedmodel.errors import InvalidInputError, NotFoundError
from savedmodel.format import checkpoint as ckpt
from savedmodel.format import saved_model as sm
from tests.conftest import FIXTURES

CONVERT = FIXTURES / "convert"
HALF_PLUS_TWO = FIXTURES / "realworld" / "tfserving__saved_model_half_plus_two_cpu__2018_6fc2949"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _signatures(path: Path) -> dict[str, str]:
    meta = sm.read_saved_model(path).meta_graphs[0]
    return {k: v.method_name for k, v in meta.signature_def.items()}


def test_cli_converts_tf1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["convert", "--dir", str(CONVERT / "simple_save"), "--output_dir", str(out)]) == 0
    assert "converted" in capsys.readouterr().out
    assert savedmodel.load(out).signatures["serving_default"](input=np.float32([1.0]))["output"][0] == 6.0
    assert main(["convert", "--dir", str(CONVERT / "simple_save"), "--output_dir", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    args = ["convert", "--dir", str(CONVERT / "examples"), "--output_dir", str(out), "--overwrite"]
    assert main([*args, "--signature_def", "regress,predict", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["written"] and report["signatures"] == {
        "predict": "tensorflow/serving/predict",
        "regress": "tensorflow/serving/regress",
    }


def test_cli_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["convert", "--dir", str(CONVERT / "builder_ref"), "--output_dir", str(out), "--dry-run", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and not report["written"] and not out.exists()
    assert any("reference variables" in c for c in report["changes"])
    assert main(["convert", "--dir", str(CONVERT / "builder_ref"), "--dry-run"]) == 0
    assert "can convert" in capsys.readouterr().out


def test_cli_dry_run_reports_blockers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tf1 = FIXTURES / "realworld" / "tf2onnx__regression_saved_model__2019_ea7404d"
    tf2 = tmp_path / "tf2"
    assert main(["convert", "--dir", str(tf1), "--output_dir", str(tf2)]) == 0
    capsys.readouterr()
    assert main(["convert", "--dir", str(tf2), "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "cannot convert" in out and "already a TF2 SavedModel" in out
    assert main(["convert", "--dir", str(tf2), "--output_dir", str(tmp_path / "again")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("savedmodel convert: error:") and "cannot convert" in err[0]


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "--dir", str(CONVERT / "builder_ref")]) == 1
    assert "--output_dir is required" in capsys.readouterr().err
    args = ["convert", "--dir", str(HALF_PLUS_TWO), "--output_dir", str(tmp_path / "o")]
    assert main([*args, "--freeze", "--set_default", "regress_x_to_y"]) == 1
    assert "separately" in capsys.readouterr().err
    assert main([*args, "--rename_signature", "nocolon"]) == 1
    assert "KEY:VALUE" in capsys.readouterr().err
    assert main([*args, "--remove_signature", "missing"]) == 1
    assert "no signature 'missing'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_signature_edits_touch_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "edited"
    args = ["convert", "--dir", str(HALF_PLUS_TWO), "--output_dir", str(out)]
    edits = [
        "--rename_signature",
        "classify_x_to_y:classify",
        "--remove_signature",
        "regress_x2_to_y3",
        "--set_default",
        "regress_x_to_y",
        "--method_name",
        "classify:predict",
    ]
    assert main(args + edits) == 0
    before, after = _files(HALF_PLUS_TWO), _files(out)
    assert set(after) == set(before)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"saved_model.pb"}
    sigs = _signatures(out)
    old = _signatures(HALF_PLUS_TWO)
    assert "regress_x2_to_y3" not in sigs and "classify_x_to_y" not in sigs
    assert sigs["classify"] == "tensorflow/serving/predict"
    assert sigs["serving_default"] == old["regress_x_to_y"]
    assert sigs["regress_x_to_y"] == old["serving_default"]
    meta_old = sm.read_saved_model(HALF_PLUS_TWO).meta_graphs[0]
    meta_new = sm.read_saved_model(out).meta_graphs[0]
    assert meta_new.graph_def == meta_old.graph_def
    assert meta_new.signature_def["serving_default"].inputs == meta_old.signature_def["regress_x_to_y"].inputs
    model = savedmodel.load(out)
    result = model.signatures["classify"](inputs=_examples([1.0, 4.0]))
    np.testing.assert_allclose(result["scores"].reshape(-1), [2.5, 4.0])


def _examples(values: list[float]) -> np.ndarray:
    from savedmodel.proto import example_pb2

    out = []
    for v in values:
        example = example_pb2.Example()
        example.features.feature["x"].float_list.value.append(v)
        out.append(example.SerializeToString())
    return np.array(out, dtype=object)


def test_edit_tf2_signature_map(tmp_path: Path) -> None:
    tf2 = tmp_path / "tf2"
    assert main(["convert", "--dir", str(CONVERT / "examples"), "--output_dir", str(tf2)]) == 0
    report = edit_signatures(tf2, tmp_path / "edited", rename={"predict": "logits"}, remove=["classify"])
    assert report.written
    meta = sm.read_saved_model(tmp_path / "edited").meta_graphs[0]
    root = meta.object_graph_def.nodes[0]
    sig_map = next(c.node_id for c in root.children if c.local_name == "signatures")
    names = {c.local_name for c in meta.object_graph_def.nodes[sig_map].children}
    assert names == {"logits", "regress", "serving_default"}
    assert set(savedmodel.load(tmp_path / "edited").signatures) == names
    assert (tmp_path / "edited" / "fingerprint.pb").read_bytes() != (tf2 / "fingerprint.pb").read_bytes()


def test_edit_rules(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="already exists"):
        edit_signatures(HALF_PLUS_TWO, tmp_path / "a", rename={"classify_x_to_y": "regress_x_to_y"})
    with pytest.raises(InvalidInputError, match="init op"):
        edit_signatures(HALF_PLUS_TWO, tmp_path / "a", remove=["__saved_model_init_op"])
    with pytest.raises(NotFoundError):
        edit_signatures(HALF_PLUS_TWO, tmp_path / "a", method_names={"nope": "predict"})
    report = edit_signatures(HALF_PLUS_TWO, None, method_names={"serving_default": "classify"}, dry_run=True)
    assert any("classify API wants" in w for w in report.warnings)
    assert not (tmp_path / "a").exists()


def test_export_weights_tf1_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "w.npz"
    assert main(["export-weights", "--dir", str(CONVERT / "simple_save"), "--output", str(out)]) == 0
    assert "wrote 2 variables" in capsys.readouterr().out
    weights = load_npz(out)
    assert sorted(weights) == ["dense/shift", "scale"]
    np.testing.assert_array_equal(weights["dense/shift"], np.float32([1.0, 2.0]))
    assert main(["export-weights", "--dir", str(CONVERT / "simple_save"), "--output", str(out)]) == 1


def test_export_weights_tf2_names_and_bfloat16(tmp_path: Path) -> None:
    tf2 = tmp_path / "tf2"
    assert main(["convert", "--dir", str(CONVERT / "simple_save"), "--output_dir", str(tf2)]) == 0
    out = tmp_path / "w.npz"
    assert main(["export-weights", "--dir", str(tf2), "--output", str(out)]) == 0
    assert sorted(load_npz(out)) == ["dense/shift", "scale"]
    assert (
        main(["export-weights", "--dir", str(tf2), "--output", str(out), "--names", "keys", "--overwrite"])
        == 0
    )
    assert "dense/shift/.ATTRIBUTES/VARIABLE_VALUE" in load_npz(out)

    prefix = tmp_path / "ckpt" / "model.ckpt"
    prefix.parent.mkdir()
    values = {
        "emb": np.arange(6, dtype=np.float32).reshape(2, 3).astype(ml_dtypes.bfloat16),
        "step": np.int64(7),
        "vocab": np.array([b"a", b"bc"], dtype=object),
    }
    ckpt.write_checkpoint(prefix, values)
    assert main(["export-weights", "--dir", str(prefix), "--output", str(tmp_path / "b.npz")]) == 0
    weights = load_npz(tmp_path / "b.npz")
    assert weights["emb"].dtype == np.dtype(ml_dtypes.bfloat16)
    np.testing.assert_array_equal(weights["emb"].astype(np.float32), values["emb"].astype(np.float32))
    assert weights["step"] == 7 and weights["step"].dtype == np.int64
    assert weights["vocab"].tolist() == [b"a", b"bc"]
    with np.load(tmp_path / "b.npz", allow_pickle=False) as raw:  # plain NumPy reads it too
        assert raw["emb"].dtype == np.uint16


def test_dry_run_warns_about_custom_ops(capsys: pytest.CaptureFixture[str]) -> None:
    trt = FIXTURES / "realworld" / "tfserving__saved_model_half_plus_two_gpu_trt__2019_c7b3d94"
    assert main(["convert", "--dir", str(trt), "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and any("custom ops" in w and "TRTEngineOp" in w for w in report["warnings"])


def _has_safetensors() -> bool:
    try:
        import safetensors  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(_has_safetensors(), reason="the safetensors package is installed")
def test_safetensors_needs_its_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["export-weights", "--dir", str(CONVERT / "simple_save"), "--output", str(tmp_path / "w.st")]
    assert main([*args, "--format", "safetensors"]) == 1
    assert "pip install 'savedmodel[safetensors]'" in capsys.readouterr().err
    assert not (tmp_path / "w.st").exists()


@pytest.mark.skipif(not _has_safetensors(), reason="the safetensors package is not installed")
def test_export_weights_safetensors(tmp_path: Path) -> None:
    prefix = tmp_path / "ckpt" / "model.ckpt"
    prefix.parent.mkdir()
    emb = np.arange(6, dtype=np.float32).reshape(2, 3).astype(ml_dtypes.bfloat16)
    ckpt.write_checkpoint(prefix, {"dense/emb": emb, "step": np.int64(7)})
    out = tmp_path / "w.safetensors"
    assert (
        main(["export-weights", "--dir", str(prefix), "--output", str(out), "--format", "safetensors"]) == 0
    )
    data = out.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    body = data[8 + size :]
    assert header["dense/emb"]["dtype"] == "BF16" and header["dense/emb"]["shape"] == [2, 3]
    start, end = header["dense/emb"]["data_offsets"]
    assert body[start:end] == emb.tobytes()
    assert header["step"]["dtype"] == "I64" and header["step"]["shape"] == []  # a scalar stays one
    vocab = tmp_path / "ckpt2" / "model.ckpt"
    vocab.parent.mkdir()
    ckpt.write_checkpoint(vocab, {"vocab": np.array([b"a"], dtype=object)})
    assert (
        main(
            [
                "export-weights",
                "--dir",
                str(vocab),
                "--output",
                str(tmp_path / "v"),
                "--format",
                "safetensors",
            ]
        )
        == 1
    )


def test_cli_plain_inputs_and_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["convert", "--dir", str(CONVERT / "examples"), "--output_dir", str(out), "--plain_inputs"]
    assert main([*args, "--verbose"]) == 0
    captured = capsys.readouterr()
    assert "plain inputs k, x" in captured.out
    steps = [line.split("] ", 1)[1] for line in captured.err.splitlines()]
    assert steps[0].startswith("reading ") and steps[-1] == f"writing {out}"
    assert "signature 'classify' (1/4)" in steps
    assert _signatures(out)["classify"] == "tensorflow/serving/predict"
    assert main([*args, "--overwrite", "--verbose", "--json"]) == 0  # no progress with --json
    captured = capsys.readouterr()
    assert captured.err == "" and json.loads(captured.out)["written"]
    assert main([*args, "--rename_signature", "a:b"]) == 1
    assert "--plain_inputs" in capsys.readouterr().err
