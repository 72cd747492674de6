"""A TF2 model calling tf.random's stateless samplers, against TensorFlow's own outputs.

Fixture and golden: tools/oracle/make_random_goldens.py (stateless_gamma, stateless_poisson,
stateless_parameterized_truncated_normal, full-range stateless_uniform, stateless_shuffle and
index_shuffle inside one tf.function, saved by TensorFlow 2.21).
"""

from __future__ import annotations

import numpy as np
import pytest

import savedmodel
from tests.conftest import FIXTURES, assert_matches_golden, golden_array, load_golden

MODEL = FIXTURES / "runtime_ops" / "stateless_random"
CALLS = load_golden(FIXTURES / "runtime_ops" / "stateless_random.json")["stateless_random"]["calls"]


def _graph_ops() -> set[str]:
    from savedmodel.format.saved_model import read_saved_model

    (meta_graph,) = read_saved_model(MODEL).meta_graphs
    return {n.op for f in meta_graph.graph_def.library.function for n in f.node_def}


def test_fixture_uses_the_tf2_stateless_ops() -> None:
    assert {
        "StatelessRandomGammaV3",
        "StatelessRandomPoisson",
        "StatelessParameterizedTruncatedNormal",
        "StatelessRandomUniformFullIntV2",
        "StatelessShuffle",
        "RandomIndexShuffle",
    } <= _graph_ops()


@pytest.mark.parametrize("index", range(len(CALLS)))
def test_signature_matches_tensorflow(index: int) -> None:
    call = CALLS[index]
    model = savedmodel.load(MODEL)
    inputs = {k: golden_array(v) for k, v in call["inputs"].items()}
    result = model.signatures["serving_default"](**inputs)
    assert set(result) == set(call["outputs"])
    for key, entry in call["outputs"].items():
        assert_matches_golden(result[key], entry, f"call {index}: {key}")


def test_restored_function_matches_the_signature() -> None:
    model = savedmodel.load(MODEL)
    call = CALLS[0]
    inputs = {k: golden_array(v) for k, v in call["inputs"].items()}
    result = model.sample(**inputs)
    for key, entry in call["outputs"].items():
        assert_matches_golden(np.asarray(result[key]), entry, key)
