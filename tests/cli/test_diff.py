"""`savedmodel diff A B`: tag sets, signatures, ops, variables; exit 0 equal / 1 different / 2 trouble.

vars-a and vars-b (tools/oracle/make_show_fixtures.py) differ on purpose: input
shape [3] vs [None], an extra output and ops (Relu, Sum) in B, variable n int32
vs int64, an extra variable w in B, and v = [1, 2, 3] vs [1, 2, 3.000001]
(values from TensorFlow's checkpoint reader in variables.json).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from savedmodel.cli.diff import compare
from savedmodel.cli.main import main
from savedmodel.proto import saved_model_pb2
from tests.conftest import FIXTURES

SHOW = FIXTURES / "show"
A, B = str(SHOW / "vars-a"), str(SHOW / "vars-b")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_equal_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "diff", A, A, "--values") == (0, "", "")


def test_different_models(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "diff", A, B)
    assert rc == 1
    assert out.splitlines() == [
        "[serve] signature 'serving_default' input 'x': shape (3) != (-1)",
        "[serve] signature 'serving_default': outputs only in B: z",
        "[serve]: ops only in B: Relu, Sum",
        "variables only in B: w/.ATTRIBUTES/VARIABLE_VALUE",
        "variable 'n/.ATTRIBUTES/VARIABLE_VALUE': dtype int32 != int64",
    ]


def test_values_with_tolerance() -> None:
    golden = json.loads((SHOW / "variables.json").read_text())
    key = "v/.ATTRIBUTES/VARIABLE_VALUE"
    va = np.float32([e for e in golden["vars-a"] if e["name"] == key][0]["value"])
    vb = np.float32([e for e in golden["vars-b"] if e["name"] == key][0]["value"])
    expected_gap = float(np.max(np.abs(va.astype(np.float64) - vb)))
    assert expected_gap > 0
    loose = [d for d in compare(A, B, values=True) if d.kind == "variable_value"]
    assert loose == []  # within the default rtol=1e-5
    strict = [d for d in compare(A, B, values=True, rtol=0, atol=0) if d.kind == "variable_value"]
    assert len(strict) == 1 and strict[0].where == f"variable {key!r}"
    assert f"1 of 3 elements differ (max abs diff {expected_gap:.6g})" in strict[0].message


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "diff", A, B, "--json", "--values", "--atol", "0", "--rtol", "0")
    assert rc == 1
    doc = json.loads(out)
    assert doc["equal"] is False
    kinds = [d["kind"] for d in doc["differences"]]
    assert kinds == ["tensor_shape", "tensor", "ops", "variable", "variable_dtype", "variable_value"]
    shape = doc["differences"][0]
    assert (shape["a"], shape["b"]) == ([3], [-1])
    assert doc["differences"][2]["b"] == ["Relu", "Sum"]
    rc, out, _ = run_cli(capsys, "diff", A, A, "--json")
    assert rc == 0 and json.loads(out) == {"a": A, "b": A, "equal": True, "differences": []}


def _edited_copy(tmp_path: Path, source: Path, edit) -> str:
    target = tmp_path / f"{source.name}-edited"
    shutil.copytree(source, target)
    proto = saved_model_pb2.SavedModel.FromString((target / "saved_model.pb").read_bytes())
    edit(proto)
    (target / "saved_model.pb").write_bytes(proto.SerializeToString())
    return str(target)


def test_tag_sets_method_names_and_dtypes(tmp_path: Path) -> None:
    def edit(proto: saved_model_pb2.SavedModel) -> None:
        del proto.meta_graphs[2]  # the 'train' meta graph
        sig = proto.meta_graphs[0].signature_def["classify_x"]
        sig.method_name = "tensorflow/serving/predict"
        sig.outputs["scores"].dtype = 2  # DT_DOUBLE
        sig.outputs["scores"].tensor_shape.unknown_rank = True
        del proto.meta_graphs[0].signature_def["regress_x"]

    original = str(SHOW / "multi-tag")
    messages = [d.message for d in compare(original, _edited_copy(tmp_path, SHOW / "multi-tag", edit))]
    assert messages == [
        "tag sets only in A: 'train'",
        "[serve]: signatures only in A: regress_x",
        "[serve] signature 'classify_x': method name 'tensorflow/serving/classify' != "
        "'tensorflow/serving/predict'",
        "[serve] signature 'classify_x' output 'scores': dtype DT_FLOAT != DT_DOUBLE",
        "[serve] signature 'classify_x' output 'scores': shape (-1, 2) != unknown_rank",
    ]


def test_checkpoints_compare_variables_only(capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = str(FIXTURES / "seed" / "multiply_values.ckpt")
    assert run_cli(capsys, "diff", ckpt, ckpt, "--values") == (0, "", "")
    rc, out, _ = run_cli(capsys, "diff", ckpt, str(SHOW / "multi-tag" / "variables" / "variables"))
    assert rc == 1
    assert out.splitlines() == ["variables only in A: v", "variables only in B: bias, steps, w"]


def test_trouble_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, err = run_cli(capsys, "diff", A, str(tmp_path / "missing"))
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "missing" in err
    broken = tmp_path / "broken"
    shutil.copytree(SHOW / "vars-b", broken)
    (broken / "saved_model.pb").write_bytes(b"\xff" * 64)
    rc, _, err = run_cli(capsys, "diff", A, str(broken))
    assert rc == 2 and "saved_model.pb" in err and "Traceback" not in err
