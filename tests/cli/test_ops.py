"""`savedmodel ops`: op sets equal TF's `show --list_ops` sets, exact counts, supported/unsupported."""

from __future__ import annotations

import ast
import json
import re
import shutil
from collections import Counter

import pytest

from savedmodel.cli import ops as ops_cli
from savedmodel.cli.main import main
from savedmodel.format import saved_model as saved_model_format
from tests.conftest import FIXTURES, SEED

SEEDS = ("saved-model-builder", "simple-save", "tf2-save", "keras-model", "estimator-model")


def run_json(directory, capsys, *extra):
    code = main(["ops", "--dir", str(directory), "--json", *extra])
    out, err = capsys.readouterr()
    assert err == ""
    return code, json.loads(out)


def tf_op_set(name: str) -> set[str]:
    """The op set saved_model_cli show --all printed for a seed model."""
    text = (SEED / f"{name}.show_all.txt").read_text()
    match = re.search(r"contains the following ops: (\{.*\})", text)
    return ast.literal_eval(match.group(1))


@pytest.mark.parametrize("name", SEEDS)
def test_op_set_matches_tensorflow(name, capsys):
    code, report = run_json(SEED / name, capsys)
    assert code == 0
    assert {row["op"] for row in report["ops"]} == tf_op_set(name)


@pytest.mark.parametrize("name", SEEDS)
def test_counts_are_nodes_over_graph_and_functions(name, capsys):
    graph = saved_model_format.read_saved_model(SEED / name).meta_graphs[0].graph_def
    functions = {f.signature.name for f in graph.library.function}
    nodes = [n.op for n in graph.node] + [n.op for f in graph.library.function for n in f.node_def]
    expected = Counter(op for op in nodes if op not in functions)
    _, report = run_json(SEED / name, capsys)
    assert {row["op"]: row["count"] for row in report["ops"]} == dict(expected)
    assert report["functions"] == len(functions)


def test_exact_counts_of_small_seeds(capsys):
    _, report = run_json(SEED / "saved-model-builder", capsys)
    assert [(r["op"], r["count"]) for r in report["ops"]] == [("AddV2", 1), ("Const", 1), ("Placeholder", 1)]
    _, report = run_json(SEED / "tf2-save", capsys)
    counts = {r["op"]: r["count"] for r in report["ops"]}
    # serving_default and __call__ each add 2 once; the TF2 saver's SaveV2/RestoreV2 once each.
    assert (counts["AddV2"], counts["SaveV2"], counts["RestoreV2"], counts["Placeholder"]) == (2, 1, 1, 2)
    _, report = run_json(SEED / "keras-model", capsys)
    assert {r["op"]: r["count"] for r in report["ops"]}["AddV2"] == 4


def test_basic_ops_are_supported(capsys):
    _, report = run_json(SEED / "saved-model-builder", capsys)
    assert all(row["supported"] for row in report["ops"])
    assert report["unsupported"] == []
    assert main(["ops", "--dir", str(SEED / "saved-model-builder"), "--check"]) == 0


@pytest.fixture
def model_with_fake_op(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(SEED / "saved-model-builder", model)
    proto = saved_model_format.read_saved_model(model)
    graph = proto.meta_graphs[0].graph_def
    for index in range(2):
        node = graph.node.add()
        node.name = f"fake_{index}"
        node.op = "SavedModelTestNoSuchOp"
    (model / "saved_model.pb").write_bytes(proto.SerializeToString())
    return model


def test_unsupported_op_and_check(model_with_fake_op, capsys):
    code, report = run_json(model_with_fake_op, capsys)
    assert code == 0
    assert report["unsupported"] == ["SavedModelTestNoSuchOp"]
    row = next(r for r in report["ops"] if r["op"] == "SavedModelTestNoSuchOp")
    assert row == {"op": "SavedModelTestNoSuchOp", "count": 2, "supported": False, "family": None}
    code, _ = run_json(model_with_fake_op, capsys, "--check")
    assert code == 1


def test_text_listing(model_with_fake_op, capsys):
    assert main(["ops", "--dir", str(model_with_fake_op), "--tag_set", "serve"]) == 0
    out = capsys.readouterr().out
    assert out == (
        "MetaGraph with tag set ['serve'] uses 4 ops (graph and 0 library functions):\n"
        "  op                      count  supported\n"
        "  AddV2                       1  yes\n"
        "  Const                       1  yes\n"
        "  Placeholder                 1  yes\n"
        "  SavedModelTestNoSuchOp      2  NO\n"
        "3 of 4 ops supported; unsupported: SavedModelTestNoSuchOp\n"
    )


def test_direct_function_calls_are_listed_apart(tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(SEED / "tf2-save", model)
    proto = saved_model_format.read_saved_model(model)
    graph = proto.meta_graphs[0].graph_def
    name = graph.library.function[0].signature.name
    graph.node.add(name="direct_call", op=name)
    (model / "saved_model.pb").write_bytes(proto.SerializeToString())
    _, report = run_json(model, capsys)
    assert report["function_calls"] == {name: 1}
    assert name not in {row["op"] for row in report["ops"]}


def test_file_ops_listed(capsys):
    _, report = run_json(FIXTURES / "cli" / "scan-fileops", capsys)
    counts = {r["op"]: r["count"] for r in report["ops"]}
    assert counts["ReadFile"] == 1 and counts["PrintV2"] == 1


def test_builtin_ops_count_as_supported():
    assert ops_cli.is_supported("Const") and ops_cli.is_supported("Placeholder")
    assert not ops_cli.is_supported("SavedModelTestNoSuchOp")
