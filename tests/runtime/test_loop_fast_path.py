"""TF1 while loops of the canonical tf.while_loop shape (nested too) and v1 conds run as nested
steps of the runner's step lists (savedmodel/runtime/loops.py); everything else keeps the
dataflow interpreter. Both paths must give identical results (values against TF are in
test_runtime_fixtures)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from conftest import FIXTURES

import savedmodel
from savedmodel.errors import ExecutionError, LimitExceededError
from savedmodel.policy import Limits, Policy
from savedmodel.runtime import plan as plan_module
from savedmodel.runtime.dataflow import DataflowPlan
from savedmodel.runtime.session import GraphSession
from tests.graph_builder import DT, const, graph, node, placeholder, type_attr

RNN = FIXTURES / "runtime" / "tf1_rnn"
WHILE = FIXTURES / "runtime" / "tf1_while"
F = {"T": type_attr(DT.DT_FLOAT)}
I = {"T": type_attr(DT.DT_INT32)}
B = {"T": type_attr(DT.DT_BOOL)}


@contextmanager
def _dataflow_only() -> Iterator[None]:
    """TF1 graphs compiled inside the block run on the dataflow interpreter."""
    plan_module.STRUCTURED_CONTROL_FLOW = False
    try:
        yield
    finally:
        plan_module.STRUCTURED_CONTROL_FLOW = True


def _load_both(path, policy=None):
    """The serving signature compiled as nested steps (which must be taken) and on the dataflow
    interpreter."""
    fast = savedmodel.load(path, policy=policy).signatures["serving_default"]
    assert fast.plan.structured
    with _dataflow_only():
        generic = savedmodel.load(path, policy=policy).signatures["serving_default"]
    assert isinstance(generic.plan, DataflowPlan)
    return fast, generic


def _both_paths(signatures, **inputs):
    fast, generic = signatures
    return fast(**inputs), generic(**inputs)


def test_dynamic_rnn_takes_the_fast_path_with_identical_results():
    signatures = _load_both(RNN)
    rng = np.random.default_rng(0)
    for batch in (1, 3):
        x = rng.standard_normal((batch, 5, 3), dtype=np.float32)
        fast, generic = _both_paths(signatures, x=x)
        assert fast.keys() == generic.keys()
        for key in fast:
            assert fast[key].dtype == generic[key].dtype
            np.testing.assert_array_equal(fast[key], generic[key])


def test_fast_path_keeps_the_iteration_limit():
    policy = Policy(limits=Limits(max_while_iterations=2))
    signature = savedmodel.load(RNN, policy=policy).signatures["serving_default"]
    assert signature.plan.structured
    with pytest.raises(LimitExceededError, match="max_while_iterations"):
        signature(x=np.zeros((1, 5, 3), np.float32))


def test_nested_loops_and_conds_take_the_fast_path_with_identical_results():
    signatures = _load_both(WHILE)
    rng = np.random.default_rng(1)
    for n, size in ((0, 1), (1, 3), (3, 2), (5, 3), (-2, 2), (2, 1)):
        sign = 1 if n % 2 else -1  # both branches of each cond are taken across the cases
        x = (sign * np.abs(rng.standard_normal(size))).astype(np.float32)
        fast, generic = _both_paths(signatures, x=x, n=np.int32(n))
        assert fast.keys() == generic.keys()
        for key in fast:
            assert fast[key].dtype == generic[key].dtype
            np.testing.assert_array_equal(fast[key], generic[key])


def test_nested_loops_keep_the_iteration_limit_message():
    policy = Policy(limits=Limits(max_while_iterations=2))
    structured, dataflow = _load_both(WHILE, policy)
    inputs = {"x": np.ones(2, np.float32), "n": np.int32(5)}
    with pytest.raises(LimitExceededError, match="max_while_iterations") as fast:
        structured(**inputs)
    with pytest.raises(LimitExceededError) as generic:
        dataflow(**inputs)
    assert str(fast.value) == str(generic.value)


# -- hand-built graphs -----------------------------------------------------------------------------
def _session_both(g, fetches: list[str], feeds: dict):
    """Run `fetches` on the fast path (which must be taken) and on the generic executor."""
    session = GraphSession(g)
    fast = session.run(fetches, feeds)
    (plan,) = session._plans.values()
    assert plan.structured
    with _dataflow_only():
        session = GraphSession(g)
        generic = session.run(fetches, feeds)
    (plan,) = session._plans.values()
    assert isinstance(plan, DataflowPlan)
    return fast, generic


def _assert_same(fast: list, generic: list, expected: list) -> None:
    for a, b, want in zip(fast, generic, expected, strict=True):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, want)


def _cond_nodes(prefix: str, pred: str, data: str, true_op: str, false_op: str, frame_ctrl=()):
    """v1 cond over `data`: pivot Switch(pred, pred), true: data <true_op> 3, false: data <false_op> 10."""
    return [
        node(f"{prefix}/switch", "Switch", pred, pred, **B),
        node(f"{prefix}/switch_t", "Identity", f"{prefix}/switch:1", **B),
        node(f"{prefix}/switch_f", "Identity", f"{prefix}/switch", **B),
        node(f"{prefix}/pred_id", "Identity", pred, **B),
        node(f"{prefix}/sw", "Switch", data, f"{prefix}/pred_id", **F),
        const(f"{prefix}/three", np.float32(3), f"^{prefix}/switch_t"),
        node(f"{prefix}/t", true_op, f"{prefix}/sw:1", f"{prefix}/three", **F),
        const(f"{prefix}/ten", np.float32(10), f"^{prefix}/switch_f"),
        node(f"{prefix}/f", false_op, f"{prefix}/sw", f"{prefix}/ten", **F),
        node(f"{prefix}/merge", "Merge", f"{prefix}/f", f"{prefix}/t", N=2, **F),
    ]


def _loop_nodes(frame: str, i0: str, acc0: str, n: str, body, ctrl: str | None = None):
    """while i < n: i += 1; acc = body(acc, i) in frame `frame` (`body` returns nodes and its output)."""
    extra = [f"^{ctrl}"] if ctrl else []
    body_nodes, out = body(f"{frame}/body_acc", f"{frame}/body_i")
    return [
        node(f"{frame}/enter_i", "Enter", i0, frame_name=frame, **I),
        node(f"{frame}/enter_acc", "Enter", acc0, frame_name=frame, **F),
        node(f"{frame}/enter_n", "Enter", n, frame_name=frame, is_constant=True, **I),
        node(f"{frame}/merge_i", "Merge", f"{frame}/enter_i", f"{frame}/next_i", N=2, **I),
        node(f"{frame}/merge_acc", "Merge", f"{frame}/enter_acc", f"{frame}/next_acc", N=2, **F),
        node(f"{frame}/less", "Less", f"{frame}/merge_i", f"{frame}/enter_n", **I),
        node(f"{frame}/cond", "LoopCond", f"{frame}/less"),
        node(f"{frame}/switch_i", "Switch", f"{frame}/merge_i", f"{frame}/cond", **I),
        node(f"{frame}/switch_acc", "Switch", f"{frame}/merge_acc", f"{frame}/cond", **F),
        node(f"{frame}/body_i", "Identity", f"{frame}/switch_i:1", **I),
        node(f"{frame}/body_acc", "Identity", f"{frame}/switch_acc:1", **F),
        const(f"{frame}/one", np.int32(1), f"^{frame}/body_i"),
        node(f"{frame}/inc", "AddV2", f"{frame}/body_i", f"{frame}/one", **I),
        *body_nodes,
        node(f"{frame}/next_i", "NextIteration", f"{frame}/inc", **I),
        node(f"{frame}/next_acc", "NextIteration", out, **F),
        node(f"{frame}/exit_i", "Exit", f"{frame}/switch_i", *extra, **I),
        node(f"{frame}/exit_acc", "Exit", f"{frame}/switch_acc", **F),
    ]


def _double(acc: str, i: str):
    prefix = acc.rsplit("/", 1)[0]
    return [
        const(f"{prefix}/two", np.float32(2), f"^{i}"),
        node(f"{prefix}/dbl", "Mul", acc, f"{prefix}/two", **F),
    ], f"{prefix}/dbl"


def test_cond_outside_a_loop():
    g = graph(
        placeholder("x"),
        placeholder("pred", DT.DT_BOOL),
        *_cond_nodes("c", "pred", "x", "Mul", "AddV2"),
        node("after", "Neg", "c/merge", **F),
    )
    for pred, want in ((True, 6.0), (False, 12.0)):
        fast, generic = _session_both(g, ["after:0", "c/merge:1"], {"x:0": 2.0, "pred:0": pred})
        _assert_same(fast, generic, [-want, int(pred)])
        assert np.asarray(fast[1]).dtype == np.int32


def test_cond_with_a_branch_tensor_used_outside_keeps_the_dataflow_executor():
    g = graph(
        placeholder("x"),
        placeholder("pred", DT.DT_BOOL),
        *_cond_nodes("c", "pred", "x", "Mul", "AddV2"),
        node("leak", "Neg", "c/t", **F),
    )
    session = GraphSession(g)
    assert session.run("c/merge:0", {"x:0": 2.0, "pred:0": True}) == 6.0
    (plan,) = session._plans.values()
    assert plan.structured
    session = GraphSession(g)
    with pytest.raises(ExecutionError, match="dead"):
        session.run("leak:0", {"x:0": 2.0, "pred:0": False})
    (plan,) = session._plans.values()
    assert isinstance(plan, DataflowPlan)


def test_cond_inside_a_loop_body():
    def body(acc: str, i: str):
        prefix = acc.rsplit("/", 1)[0]
        nodes = [
            const(f"{prefix}/k2", np.int32(2), f"^{i}"),
            const(f"{prefix}/k0", np.int32(0), f"^{i}"),
            node(f"{prefix}/mod", "FloorMod", i, f"{prefix}/k2", **I),
            node(f"{prefix}/even", "Equal", f"{prefix}/mod", f"{prefix}/k0", **I),
            *_cond_nodes(f"{prefix}/c", f"{prefix}/even", acc, "Mul", "AddV2"),
        ]
        return nodes, f"{prefix}/c/merge"

    g = graph(
        placeholder("x"),
        placeholder("n", DT.DT_INT32),
        const("zero", np.int32(0)),
        *_loop_nodes("loop", "zero", "x", "n", body),
    )
    for n in (0, 1, 4, 5):
        want = 1.0
        for i in range(n):
            want = want * 3 if i % 2 == 0 else want + 10
        fast, generic = _session_both(g, ["loop/exit_acc:0", "loop/exit_i:0"], {"x:0": 1.0, "n:0": n})
        _assert_same(fast, generic, [want, max(n, 0)])


def test_loop_inside_a_cond_branch():
    g = graph(
        placeholder("x"),
        placeholder("n", DT.DT_INT32),
        placeholder("pred", DT.DT_BOOL),
        node("c/switch", "Switch", "pred", "pred", **B),
        node("c/switch_t", "Identity", "c/switch:1", **B),
        node("c/switch_f", "Identity", "c/switch", **B),
        node("c/sw_x", "Switch", "x", "pred", **F),
        node("c/sw_n", "Switch", "n", "pred", **I),
        const("c/zero", np.int32(0), "^c/switch_t"),
        *_loop_nodes("c/loop", "c/zero", "c/sw_x:1", "c/sw_n:1", _double),
        const("c/ten", np.float32(10), "^c/switch_f"),
        node("c/f", "AddV2", "c/sw_x", "c/ten", **F),
        node("c/merge", "Merge", "c/f", "c/loop/exit_acc", N=2, **F),
    )
    for pred, n in ((True, 3), (True, 0), (False, 3)):
        want = 1.5 * 2**n if pred else 11.5
        fast, generic = _session_both(g, ["c/merge:0", "c/merge:1"], {"x:0": 1.5, "n:0": n, "pred:0": pred})
        _assert_same(fast, generic, [want, int(pred)])


def _nested_graph():
    def outer_body(acc: str, i: str):
        prefix = acc.rsplit("/", 1)[0]
        inner = f"{prefix}/inner"

        def inner_body(a: str, j: str):
            return [
                node(f"{inner}/k", "Enter", f"{prefix}/i_float", frame_name=inner, is_constant=True, **F),
                node(f"{inner}/add", "AddV2", a, f"{inner}/k", **F),
            ], f"{inner}/add"

        nodes = [
            node(f"{prefix}/i_float", "Cast", i, SrcT=type_attr(DT.DT_INT32), DstT=type_attr(DT.DT_FLOAT)),
            const(f"{prefix}/j0", np.int32(0), f"^{i}"),
            const(f"{prefix}/three", np.int32(3), f"^{i}"),
            *_loop_nodes(inner, f"{prefix}/j0", acc, f"{prefix}/three", inner_body),
            const(f"{prefix}/two", np.float32(2), f"^{i}"),
            node(f"{prefix}/dbl", "Mul", f"{inner}/exit_acc", f"{prefix}/two", **F),
        ]
        return nodes, f"{prefix}/dbl"

    return graph(
        placeholder("x"),
        placeholder("n", DT.DT_INT32),
        const("zero", np.int32(0)),
        *_loop_nodes("outer", "zero", "x", "n", outer_body),
    )


def test_nested_loop():
    g = _nested_graph()
    for n in (0, 1, 3):
        want = 0.5
        for i in range(n):
            want = (want + 3 * i) * 2
        fast, generic = _session_both(g, ["outer/exit_acc:0", "outer/exit_i:0"], {"x:0": 0.5, "n:0": n})
        _assert_same(fast, generic, [want, n])


def test_nested_loop_iteration_limit():
    policy = Policy(limits=Limits(max_while_iterations=2))
    session = GraphSession(_nested_graph(), policy=policy)
    with pytest.raises(LimitExceededError, match="max_while_iterations") as fast:
        session.run("outer/exit_acc:0", {"x:0": 0.5, "n:0": 1})
    (plan,) = session._plans.values()
    assert plan.structured
    with _dataflow_only():
        session = GraphSession(_nested_graph(), policy=policy)
        with pytest.raises(LimitExceededError) as generic:
            session.run("outer/exit_acc:0", {"x:0": 0.5, "n:0": 1})
    (plan,) = session._plans.values()
    assert isinstance(plan, DataflowPlan)
    assert str(fast.value) == str(generic.value)
