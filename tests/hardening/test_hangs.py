"""Endless loops and deep nesting stop with typed errors, quickly, under the default policy.

- The default max_while_iterations stops a tight endless loop in each of the three loop
  executors (TF2 While; TF1 frames on the fast path and on the dataflow executor), naming
  the loop node.
- max_call_seconds stops a call that runs too long in each of them (and in nested calls).
- Chains of nested calls compile without Python recursion and stop, when called, at
  max_function_depth or before Python's own stack runs out: never a RecursionError.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import savedmodel
from savedmodel.errors import DeadlineExceededError, LimitExceededError
from savedmodel.policy import DEFAULT_LIMITS, Limits, Policy
from savedmodel.runtime import dataflow, plan
from tests.graph_builder import (
    BOOL,
    F32,
    call,
    call_chain,
    const,
    endless_tf1_loop_nodes,
    func_attr,
    function,
    node,
    placeholder,
    tensor_info,
    type_attr,
    type_list,
    write_model,
)
from tests.watchdog import no_hang

X = {"x": tensor_info("x:0", F32, [2])}
Y = {"y": tensor_info("y:0", F32, None)}
EXECUTORS = ["tf2-while", "tf1-fast-path", "tf1-dataflow"]
UNLIMITED_LOOPS = Limits(max_while_iterations=None)


@pytest.fixture
def dataflow_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """TF1 graphs compiled inside the block keep the general dataflow executor."""
    monkeypatch.setattr(plan, "STRUCTURED_CONTROL_FLOW", False)
    yield


def _endless_model(tmp: Path, executor: str) -> Path:
    if executor == "tf2-while":
        functions = [
            function("cond", [("a", F32)], [("out", BOOL)], [const("t", True)], {"out": "t:output:0"}),
            function(
                "body",
                [("a", F32)],
                [("out", F32)],
                [node("n", "Neg", "a", T=type_attr(F32))],
                {"out": "n:y:0"},
            ),
        ]
        loop = node("y", "While", "x", T=type_list(F32), cond=func_attr("cond"), body=func_attr("body"))
        return write_model(tmp / "m", [placeholder("x", F32, [2]), loop], X, Y, functions=functions)
    return write_model(tmp / "m", [placeholder("x", F32, [2]), *endless_tf1_loop_nodes()], X, Y)


def _load(path: Path, executor: str, limits: Limits | None = None) -> Any:
    signature = savedmodel.load(path, policy=Policy(limits=limits or DEFAULT_LIMITS)).signatures[
        "serving_default"
    ]
    compiled = signature.plan
    if executor == "tf1-fast-path":
        assert compiled.structured
    elif executor == "tf1-dataflow":
        assert isinstance(compiled, dataflow.DataflowPlan)
    return signature


@pytest.mark.parametrize("executor", EXECUTORS)
def test_default_limit_stops_a_tight_endless_loop(executor: str, tmp_path: Path, request) -> None:
    if executor == "tf1-dataflow":
        request.getfixturevalue("dataflow_only")
    signature = _load(_endless_model(tmp_path, executor), executor)
    loop = "'y'" if executor == "tf2-while" else "'loop' (LoopCond node 'cond')"
    start = time.perf_counter()
    with no_hang(20), pytest.raises(LimitExceededError) as caught:
        signature(x=np.zeros(2, np.float32))
    assert str(caught.value) == (
        f"while loop {loop} ran more than 50,000 iterations (policy limit max_while_iterations)"
    )
    # Measured on 2 shared cores: 0.3 s (fast path) to 1.4 s (dataflow); the bound leaves room.
    assert time.perf_counter() - start < 15


@pytest.mark.parametrize("executor", EXECUTORS)
def test_max_call_seconds_stops_a_loop(executor: str, tmp_path: Path, request) -> None:
    if executor == "tf1-dataflow":
        request.getfixturevalue("dataflow_only")
    limits = Limits(max_while_iterations=None, max_call_seconds=0.3)
    signature = _load(_endless_model(tmp_path, executor), executor, limits)
    start = time.perf_counter()
    with no_hang(20), pytest.raises(DeadlineExceededError, match="max_call_seconds") as caught:
        signature(x=np.zeros(2, np.float32))
    assert "longer than 0.3 s" in str(caught.value) and "while loop" in str(caught.value)
    assert time.perf_counter() - start < 10


def test_the_deadline_is_per_call(tmp_path: Path) -> None:
    """Each call gets the whole max_call_seconds: short calls never add up to a deadline."""
    path = write_model(tmp_path / "m", [placeholder("x", F32, [2]), node("y", "Neg", "x")], X, Y)
    signature = savedmodel.load(path, policy=Policy(limits=Limits(max_call_seconds=0.05))).signatures[
        "serving_default"
    ]
    for _ in range(5):
        time.sleep(0.02)
        np.testing.assert_array_equal(signature(x=np.ones(2, np.float32))["y"], [-1.0, -1.0])


def _chain_model(tmp: Path, depth: int) -> Path:
    nodes = [placeholder("x", F32, [2]), call("y", "f0", ["x"], [F32], [F32])]
    return write_model(tmp / "m", nodes, X, Y, functions=call_chain(depth))


def test_a_long_call_chain_compiles_without_recursion(tmp_path: Path) -> None:
    """Loading compiles every function of a 2,000-deep chain (a work list, no recursion); calling
    it stops at max_function_depth."""
    signature = savedmodel.load(_chain_model(tmp_path, 2000)).signatures["serving_default"]
    with pytest.raises(LimitExceededError, match="max_function_depth"):
        signature(x=np.ones(2, np.float32))


def test_nested_calls_stop_before_pythons_stack_runs_out(tmp_path: Path) -> None:
    """With max_function_depth raised past what Python's stack holds, the stack guard stops the
    call with the same typed error instead of a RecursionError."""
    limits = Limits(max_function_depth=100_000)
    signature = savedmodel.load(_chain_model(tmp_path, 600), policy=Policy(limits=limits)).signatures[
        "serving_default"
    ]
    with pytest.raises(LimitExceededError, match="Python's stack"):
        signature(x=np.ones(2, np.float32))


def test_stack_guard_follows_a_lowered_recursion_limit(tmp_path: Path) -> None:
    signature = savedmodel.load(_chain_model(tmp_path, 90)).signatures["serving_default"]
    depth = len(_frames())
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 400)
    try:
        with pytest.raises(LimitExceededError, match="Python's stack"):
            signature(x=np.ones(2, np.float32))
    finally:
        sys.setrecursionlimit(previous)
    np.testing.assert_array_equal(signature(x=np.ones(2, np.float32))["y"], [-1.0, -1.0])


def _frames() -> list:
    frame, out = sys._getframe(), []
    while frame is not None:
        out.append(frame)
        frame = frame.f_back
    return out
