"""`savedmodel show` against what TensorFlow 2.21's `saved_model_cli show` printed.

Goldens: tests/fixtures/show/cases.json (made by tools/oracle/make_show_fixtures.py)
and every `<model>.show_all.txt` under tests/fixtures (seed models and whatever
other areas add beside their models). Everything is compared byte for byte except
the op-set line, whose order in TensorFlow depends on the hash seed: it is
compared as a set.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from savedmodel.cli.main import main
from savedmodel.inspect import describe
from tests.conftest import FIXTURES

SHOW = FIXTURES / "show"
CASES = json.loads((SHOW / "cases.json").read_text())
OPS_MARK = " contains the following ops: "


def _model_dir(model: str) -> Path:
    return FIXTURES / model if model.startswith("seed/") else SHOW / model


def _split_ops(text: str) -> tuple[list[str], list[set[str] | None]]:
    """Lines with each op-set line's set taken out (so that it compares as a set)."""
    lines, sets = [], []
    for line in text.split("\n"):
        if OPS_MARK in line:
            head, ops = line.split(OPS_MARK, 1)
            lines.append(head + OPS_MARK + "<ops>")
            sets.append(set() if ops == "set()" else ast.literal_eval(ops))
        else:
            lines.append(line)
    return lines, sets


def assert_same_output(got: str, want: str) -> None:
    got_lines, got_sets = _split_ops(got)
    want_lines, want_sets = _split_ops(want)
    assert got_lines == want_lines
    assert got_sets == want_sets


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.mark.parametrize("case", CASES, ids=[c["golden"] for c in CASES])
def test_matches_saved_model_cli(case: dict, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(capsys, "show", "--dir", str(_model_dir(case["model"])), *case["args"])
    assert rc == 0, err
    assert_same_output(out, (SHOW / case["golden"]).read_text())


SHOW_ALL = sorted(
    p for p in FIXTURES.rglob("*.show_all.txt") if p.with_name(p.name[: -len(".show_all.txt")]).is_dir()
)


@pytest.mark.parametrize("golden", SHOW_ALL, ids=[str(p.relative_to(FIXTURES)) for p in SHOW_ALL])
def test_show_all_matches_every_stored_golden(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = golden.with_name(golden.name[: -len(".show_all.txt")])
    rc, out, err = run_cli(capsys, "show", "--dir", str(model), "--all")
    assert rc == 0, err
    assert_same_output(out, golden.read_text())


def test_goldens_cover_the_required_forms() -> None:
    names = {c["golden"] for c in CASES}
    assert "multi-tag.show.txt" in names  # several tag sets, no flags
    assert "multi-tag.show_tag_set_serve+gpu.txt" in names
    assert "poly.show_all.txt" in names  # polymorphic TF2 functions
    assert "composite.show_all.txt" in names  # COO sparse and composite signature tensors
    assert len(SHOW_ALL) >= 5 + 4


def test_op_set_printed_sorted_as_python_set(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "show", "--dir", str(FIXTURES / "seed" / "simple-save"), "--all")
    line = next(line for line in out.splitlines() if OPS_MARK in line)
    assert line.endswith("{'AddV2', 'Const', 'Placeholder'}")


def test_polymorphic_functions_in_tensorflow_order() -> None:
    """The order of a function's options follows the names TF's loader gives them, not the file order."""
    info = describe(SHOW / "poly")
    functions = {f.name: f for f in info.meta_graphs[0].functions or []}
    assert list(functions) == ["__call__", "bare", "combine", "composite_args", "fixed", "no_args"]
    call_shapes = [str(c.signature[0][0].shape) for c in functions["__call__"].concrete_functions]
    assert call_shapes == ["(None,)", "()", "(None,)", "(2,)"]
    assert functions["bare"].kind == "bare_concrete_function"
    assert functions["no_args"].concrete_functions[0].signature == ((), {})


def test_backspaces_kept_in_container_values(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "show", "--dir", str(SHOW / "poly"), "--all")
    assert (
        "          Value: {'items': (1.5, -2, None), "
        "'k': TensorSpec(shape=(), dtype=tf.int64, name='kk'), \b\b}\n" in out
    )
    assert "        Named Argument #1\n          mode\n" in out
    assert out.endswith("\n  Function Name: 'no_args'\n")


# ----------------------------------------------------------------------------- JSON


def test_json_all(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "show", "--dir", str(SHOW / "multi-tag"), "--json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["saved_model_schema_version"] == 1
    assert [mg["tags"] for mg in doc["meta_graphs"]] == [["serve"], ["serve", "gpu"], ["train"]]
    serve = doc["meta_graphs"][0]
    assert serve["ops"] == sorted(serve["ops"]) and "MatMul" in serve["ops"]
    assert list(serve["signatures"]) == ["classify_x", "regress_x", "serving_default"]
    predict = serve["signatures"]["serving_default"]
    assert predict["method_name"] == "tensorflow/serving/predict"
    assert predict["inputs"]["x"] == {
        "dtype": "DT_FLOAT",
        "shape": [-1, 3],
        "encoding": "name",
        "name": "x:0",
    }
    assert predict["inputs"]["anything"]["shape"] is None
    assert serve["functions"] is None
    assert doc["meta_graphs"][2]["signatures"] == {}


def test_json_composite_and_sparse(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "show", "--dir", str(SHOW / "composite"), "--all", "--json")
    sig = json.loads(out)["meta_graphs"][0]["signatures"]["serving_default"]
    sparse = sig["inputs"]["sparse"]
    assert sparse["encoding"] == "coo_sparse" and sparse["shape"] == [-1, 4] and sparse["dtype"] == "DT_FLOAT"
    assert sparse["coo_sparse"]["values_tensor_name"].startswith("sp/values")
    ragged = sig["inputs"]["ragged"]["composite_tensor"]
    assert ragged["type_spec"]["type"] == "RaggedTensorSpec"
    assert ragged["type_spec"]["repr"].startswith(
        "RaggedTensorSpec(TensorShape([None, None]), tf.int64, 1, tf.int64"
    )
    assert [c["dtype"] for c in ragged["components"]] == ["DT_INT64", "DT_INT64"]


def test_json_functions(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "show", "--dir", str(SHOW / "poly"), "--json")
    functions = json.loads(out)["meta_graphs"][0]["functions"]
    fixed = next(f for f in functions if f["name"] == "fixed")
    (concrete,) = fixed["concrete_functions"]
    assert concrete["args"] == [
        {"type": "TensorSpec", "dtype": "float32", "shape": [-1, 2], "name": "features"},
        {"type": "TensorSpec", "dtype": "int32", "shape": [], "name": "k"},
    ]
    assert concrete["kwargs"] == {}
    combine = next(f for f in functions if f["name"] == "combine")
    assert combine["concrete_functions"][0]["kwargs"] == {"mode": "add"}
    assert combine["concrete_functions"][0]["args"][1]["dict"]["items"] == {"tuple": [1.5, -2, None]}


def test_json_tag_set_and_signature(capsys: pytest.CaptureFixture[str]) -> None:
    model = str(SHOW / "multi-tag")
    _, out, _ = run_cli(capsys, "show", "--dir", model, "--tag_set", "gpu,serve", "--json", "--list_ops")
    doc = json.loads(out)
    assert doc["tags"] == ["serve", "gpu"] and doc["signatures"] == ["serving_default"]
    assert doc["ops"] == sorted(doc["ops"])
    _, out, _ = run_cli(
        capsys, "show", "--dir", model, "--tag_set", "serve", "--signature_def", "classify_x", "--json"
    )
    doc = json.loads(out)
    assert doc["signature"]["method_name"] == "tensorflow/serving/classify"
    assert doc["signature"]["outputs"]["scores"]["shape"] == [-1, 2]


# ----------------------------------------------------------------------------- errors


def _assert_one_line_error(rc: int, out: str, err: str, *fragments: str) -> None:
    assert rc != 0
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err


def test_unknown_tag_set(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(capsys, "show", "--dir", str(SHOW / "multi-tag"), "--tag_set", "serve,tpu")
    _assert_one_line_error(rc, out, err, "serve,tpu", "'serve,gpu'")


def test_empty_tag_set(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(capsys, "show", "--dir", str(SHOW / "multi-tag"), "--tag_set", " , ")
    _assert_one_line_error(rc, out, err, "tag_set")


def test_unknown_signature(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(
        capsys, "show", "--dir", str(SHOW / "multi-tag"), "--tag_set", "serve", "--signature_def", "nope"
    )
    _assert_one_line_error(rc, out, err, '"nope"', "serving_default")
    assert out == ""


def test_missing_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, err = run_cli(capsys, "show", "--dir", str(tmp_path / "absent"))
    _assert_one_line_error(rc, out, err, "absent")


def test_missing_saved_model_pb(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, err = run_cli(capsys, "show", "--dir", str(tmp_path), "--all")
    _assert_one_line_error(rc, out, err, "saved_model.pb")


@pytest.mark.parametrize("mangle", ["garbage", "truncated", "empty"])
def test_corrupt_saved_model_pb(mangle: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(SHOW / "poly", model)
    data = (model / "saved_model.pb").read_bytes()
    bad = {
        "garbage": b"\xff\xfe this is not a protobuf" * 10,
        "truncated": data[: len(data) // 2],
        "empty": b"",
    }
    (model / "saved_model.pb").write_bytes(bad[mangle])
    rc, out, err = run_cli(capsys, "show", "--dir", str(model), "--all")
    _assert_one_line_error(rc, out, err, "saved_model.pb")


def test_object_graph_child_out_of_range(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from savedmodel.proto import saved_model_pb2

    model = tmp_path / "model"
    shutil.copytree(SHOW / "poly", model)
    proto = saved_model_pb2.SavedModel.FromString((model / "saved_model.pb").read_bytes())
    proto.meta_graphs[0].object_graph_def.nodes[0].children[0].node_id = 10_000
    (model / "saved_model.pb").write_bytes(proto.SerializeToString())
    rc, out, err = run_cli(capsys, "show", "--dir", str(model), "--all")
    _assert_one_line_error(rc, out, err, "10000")


def test_list_ops_without_tag_set(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "show", "--dir", str(SHOW / "multi-tag"), "--list_ops")
    assert rc == 0
    assert out.splitlines()[0] == "--list_ops must be paired with a tag-set or with --all."
    assert out.splitlines()[1:] == (SHOW / "multi-tag.show.txt").read_text().splitlines()
