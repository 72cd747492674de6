"""`savedmodel show|ops|run --graph`: bare GraphDefs (frozen graphs) on the command line,
compared with what TensorFlow 2.21 makes of the same files (tools/oracle/make_graphdef_goldens.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from savedmodel.cli.main import main
from savedmodel.format import dtypes
from tests.conftest import FIXTURES, assert_matches_golden, golden_array

GOLDENS = json.loads((FIXTURES / "graphdef" / "goldens.json").read_text())
REALWORLD = FIXTURES / "realworld"
ADDITION = REALWORLD / "tfrust__addition__2024_abb3131" / "model.pb"


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", sorted(GOLDENS["cli"]))
def test_run_matches_tensorflow(case, tmp_path, capsys):
    spec = GOLDENS["cli"][case]
    feeds = {name: golden_array(entry) for name, entry in spec["feeds"].items()}
    np.savez(tmp_path / "in.npz", **{f"a{i}": value for i, value in enumerate(feeds.values())})
    inputs = ";".join(f"{name}={tmp_path / 'in.npz'}[a{i}]" for i, name in enumerate(feeds))
    outputs = list(spec["outputs"])
    code, out, err = cli(
        capsys,
        "run", "--graph", str(FIXTURES / spec["graph"]), "--inputs", inputs,
        "--outputs", ",".join(outputs), "--outdir", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 0, err
    for name in outputs:
        assert f"Result for output key {name}:\n" in out
        saved = np.load(tmp_path / "out" / (name.replace("/", "_").replace(":", "_") + ".npy"))
        if "lstm" in case:  # float32 recurrences sum in another order than Eigen
            np.testing.assert_allclose(saved, golden_array(spec["outputs"][name]), rtol=1e-4, atol=1e-5)
        else:
            assert_matches_golden(saved, spec["outputs"][name], f"{case}: {name}")


def test_run_with_input_exprs_and_default_outputs(capsys):
    code, out, err = cli(capsys, "run", "--graph", str(ADDITION), "--input_exprs", "x:0=40;y=2")
    assert (code, err) == (0, "")
    assert out == "Result for output key z:0:\n42\n"


def test_run_runs_init_ops_first(capsys):
    old = REALWORLD / "tfrust__addition__2018_dbfa9dc" / "model.pb"
    code, out, err = cli(
        capsys, "run", "--graph", str(old), "--init_op", "init", "--input_exprs", "x=[1, 2];y=[3, 4]",
        "--outputs", "z",
    )  # fmt: skip
    assert (code, out) == (0, "Result for output key z:0:\n[4 6]\n"), err


def _norm(endpoints):
    return sorted((e["name"], e["dtype"]) for e in endpoints)


@pytest.mark.parametrize("graph_file", sorted(GOLDENS["show"]))
def test_show_lists_what_tensorflow_sees(graph_file, capsys):
    expected = GOLDENS["show"][graph_file]
    code, out, err = cli(capsys, "show", "--graph", str(FIXTURES / graph_file), "--json")
    assert (code, err) == (0, "")
    info = json.loads(out)
    inputs = [
        {"name": e["name"], "dtype": dtypes.from_name(e["dtype"]), "shape": e["shape"]}
        for e in info["inputs"]
    ]
    assert sorted(inputs, key=lambda e: e["name"]) == sorted(expected["inputs"], key=lambda e: e["name"])
    outputs = [{"name": e["name"], "dtype": dtypes.from_name(e["dtype"])} for e in info["outputs"]]
    assert _norm(outputs) == _norm(expected["outputs"])
    assert sorted(info["targets"]) == sorted(expected["targets"])


def test_show_text(capsys):
    code, out, _ = cli(capsys, "show", "--graph", str(REALWORLD / "tf2onnx__gru__2018_909ad50" / "frozen.pb"))
    assert code == 0
    assert "  X:0          dtype: DT_FLOAT  shape: unknown_rank  (Placeholder)\n" in out
    assert "  output:0  dtype: DT_FLOAT  shape: unknown_rank  (Identity)\n" in out


@pytest.mark.parametrize("graph_file", sorted(GOLDENS["show"]))
def test_ops_lists_the_graphs_ops(graph_file, capsys):
    code, out, err = cli(capsys, "ops", "--graph", str(FIXTURES / graph_file), "--json", "--check")
    report = json.loads(out)
    assert [row["op"] for row in report["ops"]] == GOLDENS["show"][graph_file]["ops"]
    assert report["graph"] == str(FIXTURES / graph_file)
    # training graphs use ApplyGradientDescent, which has no kernel yet; frozen graphs are complete
    assert set(report["unsupported"]) <= {"ApplyGradientDescent"}
    assert (code, err) == (1 if report["unsupported"] else 0, "")
    if "regression" not in graph_file:
        assert code == 0


def test_ops_text_names_the_file(capsys):
    code, out, _ = cli(capsys, "ops", "--graph", str(ADDITION))
    assert code == 0
    assert out.startswith(f"GraphDef {ADDITION} uses 2 ops (graph and 0 library functions):\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--graph", "missing.pb"], "GraphDef file does not exist: missing.pb"),
        (["show", "--graph", str(ADDITION), "--tag_set", "serve"], "--tag_set applies to SavedModels"),
        (["run", "--graph", str(ADDITION), "--signature_def", "s"], "--signature_def applies to SavedModels"),
        (["run", "--graph", str(ADDITION), "--input_exprs", "x=1"], "must feed a value for placeholder"),
        (["run", "--graph", str(ADDITION), "--input_exprs", "q=1"], "the graph has no node 'q'"),
        (["run", "--graph", str(ADDITION), "--input_exprs", "x=1;y=1", "--outputs", "z:1"], "has 1 outputs"),
        (["run", "--graph", str(ADDITION), "--input_exprs", "x=[1, 2];y=1"], "cannot feed a value of shape"),
        (["run", "--dir", str(REALWORLD), "--input_exprs", "x=1"], "required with --dir: --tag_set"),
        (["ops", "--graph", str(FIXTURES / "graphdef" / "goldens.json")], "not a valid GraphDef"),
        (["show", "--graph", str(REALWORLD)], "is a directory, not a GraphDef file"),
        (
            [
                "show",
                "--graph",
                str(REALWORLD / "tfserving__saved_model_counter__2018_c668c58" / "saved_model.pb"),
            ],
            "is a SavedModel, not a GraphDef: use --dir",
        ),
    ],
)
def test_errors_are_one_line(argv, message, capsys):
    code, out, err = cli(capsys, *argv)
    assert code == 1 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_dir_and_graph_are_exclusive(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["show", "--dir", "a", "--graph", "b"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_text_graph_under_a_binary_name_and_a_meta_graph(tmp_path, capsys):
    text = tmp_path / "graph.pb"
    text.write_bytes((FIXTURES / "graphdef" / "multi_output.pbtxt").read_bytes())
    spec = GOLDENS["cli"]["multi_output"]
    values = golden_array(spec["feeds"]["values:0"]).tolist()
    code, _, err = cli(
        capsys, "run", "--graph", str(text), "--input_exprs", f"values={values}", "--outputs", "topk:0",
        "--outdir", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    assert_matches_golden(np.load(tmp_path / "topk_0.npy"), spec["outputs"]["topk:0"], "topk:0")
    meta = REALWORLD / "tf2onnx__regression_checkpoint__2019_b420b28" / "model.meta"
    code, out, err = cli(capsys, "show", "--graph", str(meta), "--json")
    assert code == 0, err
    assert [e["name"] for e in json.loads(out)["inputs"]] == ["X:0", "Y:0"]


@pytest.mark.parametrize("graph_file", sorted(GOLDENS["show"]))
def test_scan_over_the_graphs_ops(graph_file, capsys):
    ops = GOLDENS["show"][graph_file]["ops"]  # the node ops of the file, as TensorFlow read it
    path = str(FIXTURES / graph_file)
    code, out, err = cli(capsys, "scan", "--graph", path, "--allowlist", ",".join(ops[1:]), "--json")
    assert (code, err) == (0, "")
    (result,) = json.loads(out)["graphs"]
    assert result["graph"] == path and result["denylisted_ops"] == {}
    assert list(result["not_allowlisted_ops"]) == ops[:1]
    code, out, _ = cli(capsys, "scan", "--graph", path, "--denylist", ops[-1], "--fail-on-findings")
    assert code == 1 and out == f"GraphDef {path} contains the following denylisted ops: {{'{ops[-1]}'}}\n"
