"""Runtime-family ops against TensorFlow (tools/oracle/make_runtime_op_goldens.py).

Each model's golden is an ordered list of signature calls made by TensorFlow on one
freshly loaded model (several signatures change variables or tables), replayed here on
one freshly loaded model. float32 within rtol 1e-5; ints, bools and strings exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

import savedmodel
import savedmodel.compat.v1 as tf1
from tests.conftest import (
    FIXTURES,
    assert_matches_golden,
    assert_session_call_matches,
    golden_array,
    load_golden,
)

RUNTIME_OPS = FIXTURES / "runtime_ops"
GOLDEN = load_golden(RUNTIME_OPS / "golden.json")


def inputs_of(call: dict) -> dict[str, np.ndarray]:
    return {k: golden_array(v) for k, v in call["inputs"].items()}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_signature_calls_match_tensorflow(name: str) -> None:
    model = savedmodel.load(RUNTIME_OPS / name)
    for index, call in enumerate(GOLDEN[name]["calls"]):
        what = f"{name} call {index} ({call['signature']})"
        result = model.signatures[call["signature"]](**inputs_of(call))
        assert set(result) == set(call["outputs"]), what
        for key, entry in call["outputs"].items():
            assert_matches_golden(result[key], entry, f"{what}: {key}")


def test_tf1_session_calls_match_tensorflow() -> None:
    calls = GOLDEN["tf1_ops"]["calls"]
    with tf1.Graph().as_default(), tf1.Session() as sess:
        meta_graph = tf1.saved_model.load(sess, ["serve"], str(RUNTIME_OPS / "tf1_ops"))
        for index, call in enumerate(calls):
            assert_session_call_matches(sess, meta_graph, call, f"session call {index}")
