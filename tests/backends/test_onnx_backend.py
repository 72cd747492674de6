"""The onnxruntime backend (savedmodel[onnx]): the corpus models give TensorFlow's outputs, the
parts that do not export run on NumPy between ONNX regions, and `convert --to onnx` writes models
onnxruntime runs. Skipped when onnx/onnxruntime are not installed (the backend-selection and
import tests run always)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import savedmodel
from savedmodel.cli.main import main
from savedmodel.errors import InvalidInputError, MissingExtraError
from tests.conftest import ROOT
from tools.corpus import harness

HAVE_ONNX = all(__import__("importlib.util").util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))
needs_onnx = pytest.mark.skipif(not HAVE_ONNX, reason="savedmodel[onnx] not installed")
COMMITTED = harness.discover(harness.COMMITTED_DIR)
CACHED = {k: v for k, v in harness.discover(harness.CACHE_DIR).items() if k not in COMMITTED}
# Cases whose every node exports (one region, nothing left on NumPy).
WHOLLY_EXPORTED = {
    "batchnorm_inference",
    "conv2d_transpose",
    "conv3d",
    "depthwise_conv2d",
    "float16_compute",
    "normalization",
    "tf1_frozen_cnn",
    "tf1_layers_batchnorm",
    "transformer_encoder",
}
# Cases with ONNX regions and NumPy nodes (strings, tables, ragged, TensorList...) between them.
MIXED = {"string_split", "string_lookup", "control_flow_v2", "tf1_dynamic_rnn", "gather_scatter"}


def run_add_two(expression: str, *flags: str) -> int:
    """`savedmodel run` on the bundled example model."""
    directory = str(ROOT / "examples" / "add_two")
    argv = ["run", "--dir", directory, "--tag_set", "serve", "--signature_def", "serving_default"]
    return main([*argv, "--input_exprs", expression, *flags])


def _summary(loaded) -> dict:
    from savedmodel.backends.onnx.backend import summary

    return summary(loaded)


def _check_case(directory) -> dict:
    case = harness.load_case(directory)
    loaded = savedmodel.load(case.saved_model, case.meta.get("tags") or None, backend="onnxruntime")
    actual = harness.run_case(case, loaded)
    mismatches = harness.compare(case, actual)
    assert not mismatches, f"{case.name}: " + "; ".join(map(str, mismatches))
    reference = harness.run_case(case, savedmodel.load(case.saved_model, case.meta.get("tags") or None))
    for key, outputs in reference.items():
        for name, expected in outputs.items():
            got = actual[key][name]
            assert got.dtype == expected.dtype and got.shape == expected.shape, (key, name)
            if expected.dtype.kind == "f":
                scale = max(float(np.max(np.abs(expected.astype(np.float64)), initial=0)), 1.0)
                np.testing.assert_allclose(got, expected, rtol=2e-3, atol=2e-3 * scale, err_msg=name)
            else:
                np.testing.assert_array_equal(got, expected, err_msg=name)
    assert loaded.backend == "onnxruntime"
    return _summary(loaded)


@needs_onnx
@pytest.mark.parametrize("directory", [pytest.param(d, id=n) for n, d in sorted(COMMITTED.items())])
def test_committed_case_matches_tensorflow_and_numpy(directory) -> None:
    summary = _check_case(directory)
    name = directory.name
    if name in WHOLLY_EXPORTED:
        (entry,) = summary.values()
        assert entry["regions"] == 1 and entry["numpy_nodes"] == 0, entry
    if name in MIXED:
        (entry,) = summary.values()
        assert entry["regions"] >= 1 and entry["numpy_nodes"] >= 1, entry


@needs_onnx
@pytest.mark.slow
@pytest.mark.parametrize(
    "directory",
    [pytest.param(d, id=n) for n, d in sorted(CACHED.items())]
    or [pytest.param(None, marks=pytest.mark.skip(reason="no corpus cache"))],
)
def test_cached_case_matches_tensorflow_and_numpy(directory) -> None:
    _check_case(directory)


@needs_onnx
def test_strings_around_a_dense_core_give_identical_results() -> None:
    """string_lookup: StringLookup (a hash table, NumPy) feeding one-hot and counts (ONNX)."""
    directory = COMMITTED["string_lookup"]
    case = harness.load_case(directory)
    ours = savedmodel.load(case.saved_model, backend="onnxruntime")
    plain = savedmodel.load(case.saved_model)
    inputs = case.inputs["serving_default"]
    for _ in range(2):  # the first call after load and a steady-state one
        got = ours.signatures["serving_default"](**inputs)
        want = plain.signatures["serving_default"](**inputs)
        for key, value in want.items():
            assert np.array_equal(got[key], value), key
    blocked = set(_summary(ours)["serving_default"]["blocked"].values())
    assert any("no ONNX converter" in reason or "string" in reason for reason in blocked)


@needs_onnx
def test_environment_variable_selects_the_backend(monkeypatch) -> None:
    monkeypatch.setenv("SAVEDMODEL_BACKEND", "onnxruntime")
    loaded = savedmodel.load(ROOT / "examples" / "add_two")
    assert loaded.backend == "onnxruntime"
    assert float(loaded.signatures["serving_default"](input=10.0)["output"]) == 12.0
    assert savedmodel.load(ROOT / "examples" / "add_two", backend="numpy").backend == "numpy"


def test_unknown_backend_is_one_clear_error(monkeypatch) -> None:
    with pytest.raises(InvalidInputError, match="unknown backend 'tpu'"):
        savedmodel.load(ROOT / "examples" / "add_two", backend="tpu")
    monkeypatch.setenv("SAVEDMODEL_BACKEND", "bogus")
    with pytest.raises(InvalidInputError, match="SAVEDMODEL_BACKEND"):
        savedmodel.load(ROOT / "examples" / "add_two")


def test_missing_extra_names_it(monkeypatch, capsys) -> None:
    from savedmodel.backends import onnx as onnx_backend

    monkeypatch.setattr(onnx_backend, "available", lambda: False)
    with pytest.raises(MissingExtraError, match=r"pip install 'savedmodel\[onnx\]'"):
        savedmodel.load(ROOT / "examples" / "add_two", backend="onnxruntime")
    code = run_add_two("input=1.0", "--backend", "onnxruntime")
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "savedmodel[onnx]" in err


def test_importing_and_running_imports_no_onnx() -> None:
    """The backend is imported only when asked for (tests/test_cold_start.py's rule)."""
    code = (
        "import json, sys, savedmodel\n"
        "from savedmodel.cli.main import build_parser\n"
        "build_parser()\n"
        "savedmodel.load('examples/add_two').signatures['serving_default'](input=1.0)\n"
        "print(json.dumps(sorted(m for m in ('onnx', 'onnxruntime') if m in sys.modules)))\n"
    )
    env = {**os.environ, "SAVEDMODEL_BACKEND": ""}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


@needs_onnx
def test_run_command_takes_backend(capsys) -> None:
    code = run_add_two("input=10", "--backend", "onnxruntime")
    assert code == 0
    assert capsys.readouterr().out == "Result for output key output:\n12.0\n"


@needs_onnx
def test_convert_to_onnx_round_trips_through_onnxruntime(tmp_path, capsys) -> None:
    import onnxruntime

    case = harness.load_case(COMMITTED["transformer_encoder"])
    target = tmp_path / "model.onnx"
    code = main(["convert", "--dir", str(case.saved_model), "--to", "onnx", "--output", str(target)])
    assert code == 0, capsys.readouterr()
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input_ids"]
    names = [o.name for o in session.get_outputs()]
    results = dict(zip(names, session.run(names, case.inputs["serving_default"]), strict=True))
    expected = case.expected["serving_default"]
    for key, value in expected.items():
        np.testing.assert_allclose(results[key], value, rtol=1e-4, atol=1e-5, err_msg=key)
    # Keras LayerNormalization becomes one ONNX op (the moments it replaces are left out: only
    # the pooling's ReduceMean stays); EinsumDense with its weights a MatMul, and so do the
    # attention's two einsums (with Transposes).
    import onnx

    ops = [n.op_type for n in onnx.load(str(target)).graph.node]
    assert ops.count("LayerNormalization") == 2 and "Einsum" not in ops, sorted(set(ops))
    assert ops.count("ReduceMean") == 1 and "Sqrt" not in ops, sorted(set(ops))
    # An existing file is not replaced without --overwrite.
    assert main(["convert", "--dir", str(case.saved_model), "--to", "onnx", "--output", str(target)]) == 1
    assert "already exists" in capsys.readouterr().err


@needs_onnx
def test_convert_to_onnx_refuses_with_every_blocking_op(tmp_path, capsys) -> None:
    directory = COMMITTED["string_split"] / "saved_model"
    target = tmp_path / "model.onnx"
    code = main(["convert", "--dir", str(directory), "--to", "onnx", "--output", str(target), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and not target.exists()
    assert report["kind"] == "onnx" and not report["ok"] and not report["written"]
    text = "\n".join(report["blockers"])
    for op in ("StringSplitV2", "RaggedTensorToTensor", "UnsortedSegmentJoin"):
        assert f"op {op} (" in text, op
    code = main(
        ["convert", "--dir", str(COMMITTED["tf1_cond_v1"] / "saved_model"), "--to", "onnx", "--dry-run"]
    )
    assert code == 1 and "control flow v1" in capsys.readouterr().out


@needs_onnx
def test_convert_to_onnx_dry_run_writes_nothing(tmp_path, capsys) -> None:
    target = tmp_path / "m.onnx"
    directory = COMMITTED["conv3d"] / "saved_model"
    args = ["convert", "--dir", str(directory), "--to", "onnx", "--output", str(target), "--dry-run"]
    assert main(args) == 0
    assert "can convert" in capsys.readouterr().out and not target.exists()


@needs_onnx
def test_serve_takes_backend(tmp_path) -> None:
    """`savedmodel serve --backend onnxruntime` answers :predict as TensorFlow Serving does."""
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("uvicorn")
    from savedmodel.serving.server import free_port
    from tests.serving.serving_helpers import GOLDENS, HALF_PLUS_N, copy_version, wait_for

    base = tmp_path / "half"
    copy_version(HALF_PLUS_N / "1", base, 1)
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "savedmodel",
        "serve",
        "--model_name",
        "half",
        "--model_base_path",
        str(base),
        "--rest_api_port",
        str(port),
        "--backend",
        "onnxruntime",
        "--log_level",
        "warning",
    ]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            def up() -> bool:
                try:
                    return client.get("/v1/models/half").status_code == 200
                except httpx.TransportError:
                    return proc.poll() is not None

            assert wait_for(up, timeout=60) and proc.poll() is None, "server did not come up"
            golden = GOLDENS["1"]["predict"]
            response = client.post("/v1/models/half:predict", json={"instances": golden["body"]["instances"]})
            assert response.status_code == 200, response.text
            assert response.json()["predictions"] == golden["predictions"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@needs_onnx
def test_a_signature_that_trains_does_not_leave_others_stale(monkeypatch) -> None:
    """tf-rust's regression model: `train` assigns the variables `w` and `b` read. Folded reads
    are rebuilt live once a variable changes, and a signature that assigns is never traced at
    load (the trace would run its update an extra time)."""
    from tools.realworld import harness as realworld

    monkeypatch.setenv("SAVEDMODEL_BACKEND", "onnxruntime")
    case = realworld.load_case(realworld.FIXTURES / "tfrust__regression_savedmodel__2021_0682aef")
    outcomes = list(realworld.evaluate(case))
    assert outcomes and all(o.status == "PASS" for o in outcomes), [str(o) for o in outcomes]


@needs_onnx
@pytest.mark.parametrize("fault", ["wrong result", "refused by onnxruntime"])
def test_a_node_onnxruntime_gets_wrong_goes_back_to_numpy(monkeypatch, fault) -> None:
    """Regions are checked when built: a converter that computes something else, or emits what
    onnxruntime refuses, costs that node its export, not the model its result."""
    from savedmodel.backends.onnx import converters

    def broken(b, node):
        op = "Neg" if fault == "wrong result" else "NoSuchOnnxOp"
        return [b.op1(op, [b.value(node.inputs[0])])]

    monkeypatch.setitem(converters.CONVERTERS, "Relu6", broken)
    case = harness.load_case(COMMITTED["depthwise_conv2d"])
    loaded = savedmodel.load(case.saved_model, backend="onnxruntime")
    mismatches = harness.compare(case, harness.run_case(case, loaded))
    assert not mismatches, mismatches
    (entry,) = _summary(loaded).values()
    reasons = {
        loaded.signatures["serving_default"].plan.flat.graph.nodes[n].op: r
        for n, r in entry["blocked"].items()
    }
    assert set(reasons) == {"Relu6"}, reasons
    expected = "differs from the NumPy" if fault == "wrong result" else "onnxruntime refused"
    assert expected in reasons["Relu6"]
    assert entry["regions"] >= 1
