"""How the exported ONNX reaches onnxruntime: NHWC convolutions after onnxruntime's layout
optimizer, the backend's own ONNX schema, initializers handed over as arrays."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.backends.test_onnx_backend import COMMITTED, needs_onnx
from tests.conftest import ROOT
from tools.corpus import harness

# Committed cases of NHWC Conv2D / depthwise / pooling / batch norm graphs with TensorFlow goldens.
NHWC_CASES = ("tf1_frozen_cnn", "batchnorm_inference", "depthwise_conv2d", "conv2d_transpose")


def _export(name: str):
    from savedmodel.backends.onnx.export import export_onnx

    case = harness.load_case(COMMITTED[name])
    report, model = export_onnx(case.saved_model, None, tags=case.meta.get("tags") or None, dry_run=True)
    assert report.ok and model is not None, report.blockers
    return case, model


def _optimized(name: str, tmp_path) -> tuple[list[str], list[str], int]:
    """The exported model's ops, those of onnxruntime's optimized graph (ORT_ENABLE_ALL, as the
    backend sets it), and its inputs and outputs; checks its outputs against TensorFlow's."""
    import onnx
    import onnxruntime as ort

    case, model = _export(name)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    optimized = [n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
    names = [o.name for o in session.get_outputs()]
    results = dict(zip(names, session.run(names, case.inputs["serving_default"]), strict=True))
    for key, expected in case.expected["serving_default"].items():
        scale = max(float(np.max(np.abs(expected))), 1.0)
        np.testing.assert_allclose(results[key], expected, rtol=1e-4, atol=1e-4 * scale, err_msg=key)
    raw = [n.op_type for n in model.graph.node]
    return raw, optimized, len(model.graph.input) + len(model.graph.output)


@needs_onnx
@pytest.mark.parametrize("name", NHWC_CASES)
def test_nhwc_graphs_keep_transposes_only_at_their_boundaries(name, tmp_path) -> None:
    """The exporter wraps each NHWC op in Transposes to ONNX's NCHW; onnxruntime's transpose
    optimizer cancels every pair between two ops, so at most one Transpose per graph input and
    output stays (an NCHW export would save nothing), and the outputs are TensorFlow's."""
    raw, optimized, boundaries = _optimized(name, tmp_path)
    assert optimized.count("Transpose") <= boundaries < raw.count("Transpose"), (raw, optimized)


@needs_onnx
def test_dense_layers_on_sequences_become_gemms(tmp_path) -> None:
    """Keras Dense on a rank-3 input (MatMul between Reshapes, then BiasAdd) exports with its bias
    before the Reshape, so onnxruntime fuses MatMul and bias into one Gemm: the encoder's two
    feed-forward layers, beside the rank-2 Dense that always became one."""
    _, optimized, _ = _optimized("transformer_encoder", tmp_path)
    assert optimized.count("Gemm") + optimized.count("FusedGemm") == 3, sorted(optimized)


@needs_onnx
def test_own_onnx_schema_is_wire_compatible_with_the_onnx_package() -> None:
    onnx_ml_pb2 = pytest.importorskip("onnx.onnx_ml_pb2")
    from savedmodel.proto import onnx_model_pb2

    def compare(ours, theirs, path: str) -> None:
        for field in ours.fields:
            other = theirs.fields_by_name.get(field.name)
            assert other is not None, f"{path}.{field.name}"
            assert (other.number, other.type, other.is_repeated) == (
                field.number,
                field.type,
                field.is_repeated,
            ), f"{path}.{field.name}"
        for nested in ours.nested_types:
            compare(nested, theirs.nested_types_by_name[nested.name], f"{path}.{nested.name}")
        for enum in ours.enum_types:
            values = theirs.enum_types_by_name[enum.name].values_by_name
            assert {v.name: v.number for v in enum.values} == {
                v.name: values[v.name].number for v in enum.values
            }

    for name, message in onnx_model_pb2.DESCRIPTOR.message_types_by_name.items():
        compare(message, onnx_ml_pb2.DESCRIPTOR.message_types_by_name[name], name)


@needs_onnx
def test_large_initializers_reach_onnxruntime_as_arrays_and_unused_ones_are_dropped() -> None:
    from savedmodel.backends.onnx.builder import RegionBuilder
    from savedmodel.backends.onnx.hybrid import resource_value, session_for

    rng = np.random.default_rng(0)
    x, weights = (
        rng.standard_normal((2, 64)).astype(np.float32),
        rng.standard_normal((64, 32)).astype(np.float32),
    )
    values = {
        ("x", 0): x,
        ("w", 0): weights,
        ("unused", 0): np.ones(3, np.float32),
        ("b", 0): np.float32(0.5),
    }
    builder = RegionBuilder(values, {"w", "unused", "b"}, resource_value)
    builder.value(("unused", 0))
    product = builder.op1("MatMul", [builder.value(("x", 0)), builder.value(("w", 0))])
    out = builder.op1("Add", [product, builder.value(("b", 0))])
    model = builder.model([(out, np.dtype(np.float32))])
    assert list(model.external) == ["w:0"] and model.external["w:0"] is weights
    stored = {t.name: t for t in model.proto.graph.initializer}
    assert set(stored) == {"w:0", "b:0"}  # the initializer no node reads is left out
    assert not stored["w:0"].raw_data and stored["b:0"].raw_data
    (result,) = session_for(model, 1).run([out], {"x:0": x})
    np.testing.assert_allclose(result, x @ weights + 0.5, rtol=1e-5, atol=1e-5)
    embedded = builder.model([(out, np.dtype(np.float32))], embed=True)
    assert not embedded.external and len(embedded.proto.graph.initializer[0].raw_data) == weights.nbytes


@needs_onnx
def test_the_backend_never_imports_the_onnx_package() -> None:
    code = (
        "import json, sys, savedmodel\n"
        "model = savedmodel.load('examples/add_two', backend='onnxruntime')\n"
        "assert float(model.signatures['serving_default'](input=1.0)['output']) == 3.0\n"
        "print(json.dumps(sorted(m for m in ('onnx', 'onnxruntime') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["onnxruntime"]
