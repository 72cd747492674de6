"""`savedmodel scan` against TF 2.21's `saved_model_cli scan` output (tests/fixtures/cli/golden)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil

import pytest

from savedmodel.cli import scan
from savedmodel.cli.main import main
from savedmodel.format import saved_model as saved_model_format
from tests.conftest import FIXTURES, SEED

CLI = FIXTURES / "cli"
CASES = [c for c in json.loads((CLI / "cases.json").read_text())["cases"] if c["argv"][0] == "scan"]
MODELS = ("tf1-predict", "tf1-examples", "scan-fileops", "scan-hidden")
SET_LINE = re.compile(r"^(MetaGraph with tag set .*ops:) (\{.*\}|set\(\))$")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    for name in MODELS:
        os.symlink(CLI / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def sorted_sets(text: str) -> str:
    """TF prints Python sets in hash order; we print them sorted. Sort TF's to compare."""
    lines = []
    for line in text.splitlines():
        match = SET_LINE.match(line)
        if match:
            items = ast.literal_eval(match.group(2))
            line = f"{match.group(1)} {scan.format_set(items)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def resolve(argv):
    return [str(SEED / a[len("seed:") :]) if a.startswith("seed:") else a for a in argv]


def run_main(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_scan_matches_saved_model_cli(case, workdir, capsys):
    code, out, err = run_main(resolve(case["argv"]), capsys)
    assert (code, err) == (0, "")
    golden = sorted_sets((CLI / case["stdout"]).read_text())
    if "scan-hidden" in case["argv"]:
        # TF only follows functions reached through call ops and misses the saved
        # tf.function that calls WriteFile; we scan every library function.
        assert golden == (
            "MetaGraph with tag set ['serve'] does not contain the default denylisted ops: "
            "{'PrintV2', 'ReadFile', 'WriteFile'}\n"
        )
        assert (
            out == "MetaGraph with tag set ['serve'] contains the following denylisted ops: {'WriteFile'}\n"
        )
    else:
        assert out == golden


def test_sets_print_sorted_like_python_reprs():
    assert scan.format_set({"b", "a"}) == "{'a', 'b'}"
    assert scan.format_set(set()) == "set()"


def test_explicitly_empty_denylist(workdir, capsys):
    code, out, err = run_main(["scan", "--dir", "scan-fileops", "--denylist", ","], capsys)
    assert out == "MetaGraph with tag set ['serve'] does not contain the default denylisted ops: set()\n"


def test_json_lists_nodes(workdir, capsys):
    code, out, err = run_main(["scan", "--dir", "scan-fileops", "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["findings"] is True
    (graph,) = report["meta_graphs"]
    assert graph["tags"] == ["serve"]
    assert graph["denylist"] == ["PrintV2", "ReadFile", "WriteFile"]
    assert set(graph["denylisted_ops"]) == {"PrintV2", "ReadFile"}
    (read_node,) = graph["denylisted_ops"]["ReadFile"]
    function, node = read_node.split("/", 1)
    assert function.startswith("__inference_read_") and node.startswith("ReadFile")
    assert graph["allowlist"] is None and graph["not_allowlisted_ops"] is None


@pytest.mark.parametrize(
    "model, fail_flag, expected",
    [
        ("scan-fileops", [], 0),
        ("scan-fileops", ["--fail-on-findings"], 1),
        ("tf1-predict", ["--fail-on-findings"], 0),
    ],
)
def test_exit_status(model, fail_flag, expected, workdir, capsys):
    code, out, err = run_main(["scan", "--dir", model, *fail_flag], capsys)
    assert code == expected and err == ""


def test_allowlist(workdir, capsys):
    allow = "Const,Placeholder,Mul,AddV2,StringJoin"
    argv = ["scan", "--dir", "tf1-predict", "--fail-on-findings", "--allowlist"]
    code, out, err = run_main([*argv, allow], capsys)
    lines = out.splitlines()
    assert lines[0].startswith("MetaGraph with tag set ['serve'] does not contain the default denylisted ops")
    assert (
        lines[1]
        == "MetaGraph with tag set ['serve'] contains the following ops that are not allowlisted: {'Sum'}"
    )
    assert code == 1
    code, out, err = run_main([*argv, allow + ",Sum"], capsys)
    assert out.splitlines()[1] == "MetaGraph with tag set ['serve'] contains only allowlisted ops."
    assert code == 0


def test_every_meta_graph_is_scanned_unless_tag_set_given(tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(CLI / "scan-fileops", model)
    proto = saved_model_format.read_saved_model(model)
    clean = saved_model_format.read_saved_model(SEED / "saved-model-builder").meta_graphs[0]
    extra = proto.meta_graphs.add()
    extra.CopyFrom(clean)
    del extra.meta_info_def.tags[:]
    extra.meta_info_def.tags.extend(["train", "gpu"])
    (model / "saved_model.pb").write_bytes(proto.SerializeToString())

    code, out, err = run_main(["scan", "--dir", str(model)], capsys)
    assert out == (
        "MetaGraph with tag set ['serve'] contains the following denylisted ops: {'PrintV2', 'ReadFile'}\n"
        "MetaGraph with tag set ['train', 'gpu'] does not contain the default denylisted ops: "
        "{'PrintV2', 'ReadFile', 'WriteFile'}\n"
    )
    code, out, err = run_main(["scan", "--dir", str(model), "--tag_set", "gpu,train"], capsys)
    assert out == (
        "MetaGraph with tag set ['train', 'gpu'] does not contain the default denylisted ops: "
        "{'PrintV2', 'ReadFile', 'WriteFile'}\n"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dir", "nowhere"], "does not exist"),
        (["--dir", "tf1-predict", "--tag_set", "train"], "no MetaGraphDef with tag set 'train'"),
        (["--dir", "tf1-predict", "--tag_set", ","], "names no tag"),
    ],
)
def test_errors(argv, message, workdir, capsys):
    code, out, err = run_main(["scan", *argv], capsys)
    assert code == 1 and out == "" and message in err and err.count("\n") == 1
