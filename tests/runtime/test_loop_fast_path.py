"""TF1 while loops of the canonical tf.while_loop shape run as flat step lists
(savedmodel/runtime/loops.py); everything else keeps the dataflow executor.
Both paths must give identical results (values against TF are in test_runtime_fixtures)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FIXTURES

import savedmodel
from savedmodel.errors import LimitExceededError
from savedmodel.policy import Limits, Policy

RNN = FIXTURES / "runtime" / "tf1_rnn"


def _both_paths(signature, **inputs):
    fast = signature(**inputs)
    program, signature.plan.fast = signature.plan.fast, None
    try:
        generic = signature(**inputs)
    finally:
        signature.plan.fast = program
    return fast, generic


def test_dynamic_rnn_takes_the_fast_path_with_identical_results():
    signature = savedmodel.load(RNN).signatures["serving_default"]
    assert signature.plan.fast is not None
    rng = np.random.default_rng(0)
    for batch in (1, 3):
        x = rng.standard_normal((batch, 5, 3), dtype=np.float32)
        fast, generic = _both_paths(signature, x=x)
        assert fast.keys() == generic.keys()
        for key in fast:
            assert fast[key].dtype == generic[key].dtype
            np.testing.assert_array_equal(fast[key], generic[key])


def test_fast_path_keeps_the_iteration_limit():
    policy = Policy(limits=Limits(max_while_iterations=2))
    signature = savedmodel.load(RNN, policy=policy).signatures["serving_default"]
    assert signature.plan.fast is not None
    with pytest.raises(LimitExceededError, match="max_while_iterations"):
        signature(x=np.zeros((1, 5, 3), np.float32))


def test_nested_loops_and_conds_keep_the_dataflow_executor():
    signature = savedmodel.load(FIXTURES / "runtime" / "tf1_while").signatures["serving_default"]
    assert signature.plan.fast is None
