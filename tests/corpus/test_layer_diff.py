"""tools/layer_diff.py without TensorFlow: the inlined, frozen graph computes what the signature does."""

from __future__ import annotations

import numpy as np
import pytest

from savedmodel.runtime.session import GraphSession
from tools import layer_diff
from tools.corpus import harness

CASES = ["batchnorm_inference", "depthwise_conv2d", "transformer_encoder"]


@pytest.mark.parametrize("name", CASES)
def test_flat_graph_matches_the_signature(name: str) -> None:
    case = harness.load_case(harness.COMMITTED_DIR / name)
    signature = sorted(case.meta["signatures"])[0]
    flat = layer_diff.flatten(case.saved_model, signature, case.meta.get("tags"))
    ops = {node.op for node in flat.graph_def.node}
    assert not ops & {"StatefulPartitionedCall", "PartitionedCall", "VarHandleOp", "ReadVariableOp"}
    session = GraphSession(flat.graph_def, where=name)
    feeds = {flat.feeds[k]: v for k, v in case.inputs[signature].items()}
    keys = sorted(flat.outputs)
    values = session.run([flat.outputs[k] for k in keys], feeds)
    expected = harness.run_case(case)[signature]
    for key, value in zip(keys, values, strict=True):
        np.testing.assert_array_equal(value, expected[key])


def test_scaled_error() -> None:
    expected = np.array([1.0, -4.0, 2.0], np.float32)
    assert layer_diff.scaled_error(expected.copy(), expected) == 0.0
    assert layer_diff.scaled_error(expected + np.float32(0.5), expected) == pytest.approx(0.125)
    assert layer_diff.scaled_error(np.zeros(2), np.zeros(2)) == 0.0
    assert layer_diff.scaled_error(np.zeros(2), np.zeros(3)) == float("inf")


def test_corrected_graph_replaces_a_tensor_everywhere_it_is_read() -> None:
    case = harness.load_case(harness.COMMITTED_DIR / "batchnorm_inference")
    flat = layer_diff.flatten(case.saved_model, "serving_default", None)
    feeds = {flat.feeds[k]: v for k, v in case.inputs["serving_default"].items()}
    conv = next(n.name for n in flat.graph_def.node if n.op == "Conv2D") + ":0"
    base = GraphSession(flat.graph_def).run(conv, feeds)
    shifted = GraphSession(layer_diff._corrected(flat, {conv: np.ones_like(base)})).run(
        [flat.outputs[k] for k in sorted(flat.outputs)], feeds
    )
    original = GraphSession(flat.graph_def).run([flat.outputs[k] for k in sorted(flat.outputs)], feeds)
    assert any(not np.array_equal(a, b) for a, b in zip(shifted, original, strict=True))
