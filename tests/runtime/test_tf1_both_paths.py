"""Every TF1 fixture with control flow (Switch/Merge/Enter...) gives the same outputs, equal to
TensorFlow's goldens, on both TF1 paths: the runner's nested steps (savedmodel/runtime/loops.py)
and the dataflow interpreter (savedmodel/runtime/dataflow.py, forced with
`plan.STRUCTURED_CONTROL_FLOW = False`).

Where the structure analysis takes the graph, the test checks that it did (so the comparison
is between two different executors); graphs it leaves to the dataflow interpreter (reference
variables in control flow) still run through both settings.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import savedmodel
import savedmodel.compat.v1 as tf1
from savedmodel.proto import graph_pb2, saved_model_pb2
from savedmodel.runtime import plan as plan_module
from tests.conftest import (
    FIXTURES,
    assert_matches_golden,
    assert_session_call_matches,
    golden_array,
    load_golden,
)
from tools.corpus import harness as corpus
from tools.realworld import harness as realworld

FLOW_OPS = {"Switch", "Merge", "Enter", "Exit", "NextIteration", "RefSwitch", "RefEnter", "RefMerge"}
PATHS = ["structured", "dataflow"]


@contextmanager
def _path(path: str) -> Iterator[None]:
    """Graphs compiled inside the block take `path` (dataflow: the interpreter only)."""
    plan_module.STRUCTURED_CONTROL_FLOW = path == "structured"
    try:
        yield
    finally:
        plan_module.STRUCTURED_CONTROL_FLOW = True


def _ops(model_pb: Path) -> set[str]:
    data = model_pb.read_bytes()
    if model_pb.name != "saved_model.pb":
        graph = graph_pb2.GraphDef()
        graph.ParseFromString(data)
        return {n.op for n in graph.node}
    model = saved_model_pb2.SavedModel()
    model.ParseFromString(data)
    ops: set[str] = set()
    for meta_graph in model.meta_graphs:
        ops |= {n.op for n in meta_graph.graph_def.node}
        for function in meta_graph.graph_def.library.function:
            ops |= {n.op for n in function.node_def}
    return ops


def _flow_fixtures() -> set[Path]:
    """The model directories under tests/fixtures whose graphs hold TF1 control flow."""
    found = set()
    for model_pb in FIXTURES.rglob("*.pb"):
        if model_pb.name in ("fingerprint.pb", "keras_metadata.pb") or "variables" in model_pb.parts:
            continue
        try:
            if _ops(model_pb) & FLOW_OPS:
                found.add(model_pb.parent)
        except Exception:  # not a graph proto
            continue
    return found


def _assert_same(structured: dict, dataflow: dict, what: str) -> None:
    assert structured.keys() == dataflow.keys(), what
    for key in structured:
        a, b = np.asarray(structured[key]), np.asarray(dataflow[key])
        assert a.dtype == b.dtype, f"{what}: {key}"
        np.testing.assert_array_equal(a, b, err_msg=f"{what}: {key}")


def _run_calls(directory: Path, path: str, calls: list[tuple[str, dict, dict, Any]]) -> list[dict]:
    """The outputs of `calls` in order on one model loaded with `path` (calls may share state)."""
    tags = calls[0][3]
    with _path(path):
        loaded = savedmodel.load(directory, tags)
    results = []
    for signature, inputs, _outputs, _tags in calls:
        function = loaded.signatures[signature]
        if path == "dataflow":
            assert not function.plan.structured, directory
        results.append(function(**{k: golden_array(v) for k, v in inputs.items()}))
    return results


# -- the cases: fixture directory -> how it is checked ----------------------------------------------
RUNTIME = FIXTURES / "runtime"
RUNTIME_GOLDEN = load_golden(RUNTIME / "golden.json")
CONVERT = FIXTURES / "convert"
CONVERT_GOLDEN = json.loads((CONVERT / "goldens.json").read_text())
RUNTIME_OPS = FIXTURES / "runtime_ops"
RUNTIME_OPS_GOLDEN = load_golden(RUNTIME_OPS / "golden.json")
TRAINING = FIXTURES / "training"
TRAINING_GOLDEN = json.loads(gzip.decompress((TRAINING / "golden.json.gz").read_bytes()))
# Graphs the analysis must structure (nested steps), by fixture directory.
STRUCTURED = {
    RUNTIME / "tf1_rnn",
    RUNTIME / "tf1_while",
    CONVERT / "while_loop",
    CONVERT / "ref_cond",
    corpus.COMMITTED_DIR / "tf1_cond_v1",
    corpus.COMMITTED_DIR / "tf1_dynamic_rnn_v1_loops",
    TRAINING / "rnn_ref",
    TRAINING / "rnn_array_ref",
}


def _golden_calls(directory: Path) -> list[tuple[str, dict, dict, Any]]:
    """(signature, inputs, golden outputs, tags) per recorded call of a fixture with JSON goldens."""
    if directory.parent == RUNTIME:
        entries = [v for k, v in RUNTIME_GOLDEN.items() if k.split("/")[0] == directory.name]
        return [(e["signature"], e["inputs"], e["outputs"], None) for e in entries]
    if directory.parent == CONVERT:
        cases = CONVERT_GOLDEN[directory.name]
        return [(sig, case["inputs"], case["outputs"], None) for sig, case in cases.items()]
    if directory.parent == RUNTIME_OPS:
        calls = RUNTIME_OPS_GOLDEN[directory.name]["calls"]
        return [(c["signature"], c["inputs"], c["outputs"], None) for c in calls]
    if directory.parent == TRAINING:
        serving = TRAINING_GOLDEN[directory.name]["serving"]
        return [
            ("serving_default", {"x": serving["x"]}, {"probabilities": serving["probabilities"]}, ["serve"])
        ]
    raise AssertionError(f"no goldens known for {directory}")


def _check_golden_fixture(directory: Path) -> None:
    calls = _golden_calls(directory)
    structured, dataflow = (_run_calls(directory, path, calls) for path in PATHS)
    for index, (signature, _inputs, outputs, _tags) in enumerate(calls):
        what = f"{directory.name} call {index} ({signature})"
        _assert_same(structured[index], dataflow[index], what)
        assert set(structured[index]) == set(outputs), what
        for key, entry in outputs.items():
            assert_matches_golden(structured[index][key], entry, f"{what}: {key}")


def _check_corpus_fixture(directory: Path) -> None:
    case = corpus.load_case(directory)
    results = {}
    for path in PATHS:
        with _path(path):
            loaded = savedmodel.load(case.saved_model, case.meta.get("tags") or None)
        results[path] = corpus.run_case(case, loaded)
        assert not corpus.compare(case, results[path]), f"{case.name} on the {path} path"
    for signature in results["structured"]:
        _assert_same(results["structured"][signature], results["dataflow"][signature], case.name)


def _check_realworld_fixture(directory: Path) -> None:
    case = realworld.load_case(directory)
    for path in PATHS:
        with _path(path):
            outcomes = list(realworld.evaluate(case))
        failures = [
            f"{o.status} {o.run.label}: {o.detail}" for o in outcomes if o.status not in ("PASS", "TF_ERROR")
        ]
        assert not failures, f"{case.name} on the {path} path: " + "\n".join(failures)
        assert any(o.status == "PASS" for o in outcomes), case.name


def _checker(directory: Path):
    if directory.parent == corpus.COMMITTED_DIR.resolve() or directory.parent.parent == corpus.COMMITTED_DIR:
        return _check_corpus_fixture
    if directory.parent == realworld.FIXTURES:
        return _check_realworld_fixture
    return _check_golden_fixture


def _case_directory(directory: Path) -> Path:
    """The fixture's case directory (a corpus case keeps its SavedModel in saved_model/)."""
    return directory.parent if directory.name == "saved_model" else directory


CASES = sorted(_case_directory(d) for d in _flow_fixtures())


def test_the_fixtures_with_tf1_control_flow_are_all_covered() -> None:
    names = {str(d.relative_to(FIXTURES)) for d in CASES}
    assert {"runtime/tf1_while", "runtime/tf1_rnn", "runtime_ops/tf1_ops", "corpus/tf1_cond_v1"} <= names
    assert len(CASES) >= 11


@pytest.mark.parametrize("directory", CASES, ids=[str(d.relative_to(FIXTURES)) for d in CASES])
def test_fixture_gives_the_same_outputs_on_both_tf1_paths(directory: Path) -> None:
    if directory in STRUCTURED:
        model = directory / "saved_model" if (directory / "saved_model").is_dir() else directory
        signature = savedmodel.load(model).signatures["serving_default"]
        assert signature.plan.structured, f"{directory.name}: the structure analysis no longer takes it"
    _checker(directory)(directory)


def test_tf1_session_runs_both_paths_alike() -> None:
    """compat.v1 Session.run over the TF1 ops fixture (reference variables in control flow)."""
    calls = RUNTIME_OPS_GOLDEN["tf1_ops"]["calls"]
    for path in PATHS:
        with _path(path), tf1.Graph().as_default(), tf1.Session() as sess:
            meta_graph = tf1.saved_model.load(sess, ["serve"], str(RUNTIME_OPS / "tf1_ops"))
            for index, call in enumerate(calls):
                assert_session_call_matches(sess, meta_graph, call, f"{path} session call {index}")
