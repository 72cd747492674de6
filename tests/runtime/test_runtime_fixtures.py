"""Models written by TensorFlow (tools/oracle/make_runtime_fixtures.py) give TensorFlow's outputs.

float32 within rtol 1e-5; ints, bools and strings exactly.
"""

from __future__ import annotations

import functools

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

RUNTIME = FIXTURES / "runtime"
GOLDEN = load_golden(RUNTIME / "golden.json")
CASES = sorted(k for k, v in GOLDEN.items() if "signature" in v)


@functools.cache
def loaded(name: str):
    return savedmodel.load(RUNTIME / name)


@pytest.mark.parametrize("key", CASES)
def test_signature_matches_tensorflow(key: str) -> None:
    name = key.split("/")[0]
    entry = GOLDEN[key]
    model = savedmodel.load(RUNTIME / name) if name == "tf2_module" and key.endswith("bump") else loaded(name)
    inputs = {k: golden_array(v) for k, v in entry["inputs"].items()}
    result = model.signatures[entry["signature"]](**inputs)
    assert set(result) == set(entry["outputs"])
    for out_key, out_entry in entry["outputs"].items():
        assert_matches_golden(result[out_key], out_entry, f"{key}: {out_key}")


@pytest.mark.parametrize("key", [k for k in CASES if k.startswith("tf1_")])
def test_tf1_session_path(key: str) -> None:
    name = key.split("/")[0]
    with tf1.Graph().as_default(), tf1.Session() as sess:
        meta_graph = tf1.saved_model.load(sess, ["serve"], str(RUNTIME / name))
        assert_session_call_matches(sess, meta_graph, GOLDEN[key], key)


def test_polymorphic_function_dispatch() -> None:
    model = loaded("tf2_module")
    entry = GOLDEN["tf2_module/poly"]
    assert_matches_golden(model.poly(np.array([1.5, 2.5], np.float32)), entry["float"], "poly float")
    assert_matches_golden(model.poly(np.array([1, 2, 3], np.int32)), entry["int"], "poly int")
    assert_matches_golden(model.v.numpy(), entry["v"], "variable v")


def test_stateful_signature_updates_variable() -> None:
    model = savedmodel.load(RUNTIME / "tf2_module")
    first = model.signatures["bump"]()
    second = model.signatures["bump"]()
    key = next(iter(first))
    assert int(second[key]) == int(first[key]) + 1
    assert int(model.counter.numpy()) == int(second[key])
