"""Regressions for runtime/kernel bugs the corpus and hardening work found.

Values are TensorFlow's: the corpus cases' outputs.npz (tools/corpus/generate.py, TF 2.21) or,
for the hand-built graphs, what TensorFlow computes for the same arithmetic.
"""

from __future__ import annotations

import numpy as np
import pytest

import savedmodel
from savedmodel import tf
from savedmodel.errors import ExecutionError, LimitExceededError
from savedmodel.ops.lookup import LookupTable
from savedmodel.policy import DEFAULT_LIMITS, Limits, Policy, active_limits, limits_of
from savedmodel.runtime import runner
from savedmodel.runtime.session import GraphSession
from tests.conftest import SEED
from tests.graph_builder import DT, const, graph, node, placeholder, type_attr
from tools.corpus import harness

F = DT.DT_FLOAT
I32 = DT.DT_INT32


def corpus_outputs_match(name: str) -> dict:
    case = harness.load_case(harness.COMMITTED_DIR / name)
    actual = harness.run_case(case)
    assert harness.compare(case, actual) == []
    return actual


# ---------------------------------------------------------------- 1. string-valued lookup tables


def test_string_lookup_layer_imports_a_string_valued_table() -> None:
    """Keras StringLookup(invert=True) fills an int64 -> string table with LookupTableImportV2."""
    actual = corpus_outputs_match("string_lookup")
    inverted = actual["serving_default"]["string_lookup_2"]
    assert inverted.dtype == object and all(type(v) is bytes for v in inverted.reshape(-1))


def test_table_insert_keeps_strings_as_bytes() -> None:
    table = LookupTable("", "t", np.dtype(np.int64), np.dtype(object), mutable=True)
    values = np.empty(2, dtype=object)
    values[:] = [b"x", b"y\x00"]
    table.insert(np.array([3, 4], np.int64), values)
    assert table.data == {3: b"x", 4: b"y\x00"}
    found = table.find(np.array([[4, 9]], np.int64), np.array(b"?", dtype=object))
    assert found.dtype == object and found.tolist() == [[b"y\x00", b"?"]]


def test_table_rejects_non_bytes_string_keys_with_a_typed_error() -> None:
    table = LookupTable("", "t", np.dtype(object), np.dtype(np.int64), mutable=True)
    keys = np.empty(1, dtype=object)
    keys[0] = np.array(b"a", dtype=object)
    with pytest.raises(ExecutionError, match="string keys must be bytes"):
        table.find(keys, np.array(-1, np.int64))


# ---------------------------------------------------------------- 2. tf.Example dense strings


def test_example_parsing_dense_string_feeds_a_table_lookup() -> None:
    """classify / regress / predict signatures over ParseExampleV2 with a dense string feature."""
    actual = corpus_outputs_match("tf1_example_parsing")
    assert set(actual) == {"classify", "regress", "serving_default"}


# ---------------------------------------------------------------- 3. control edges on fed placeholders


def placeholder_control_graph():
    return graph(
        placeholder("x"),
        const("one", np.float32(1), "^x"),
        node("y", "AddV2", "x", "one", T=type_attr(F)),
        node("pred", "Const", value=np.array(True), dtype=type_attr(DT.DT_BOOL)),
        node("sw", "Switch", "one", "pred", T=type_attr(F)),
        node("z", "Identity", "sw:1", "^x", T=type_attr(F)),
    )


def test_control_dependency_on_a_fed_placeholder_is_satisfied_by_the_feed() -> None:
    sess = GraphSession(placeholder_control_graph())
    assert sess.run("y:0", {"x:0": np.float32(2)}) == np.float32(3)  # straight plan
    assert sess.run("one:0", {"x:0": np.float32(2)}) == np.float32(1)
    assert sess.run("z:0", {"x:0": np.float32(2)}) == np.float32(1)  # dataflow plan (Switch)


def test_control_dependency_on_an_unfed_placeholder_still_needs_a_feed() -> None:
    with pytest.raises(ExecutionError, match="must feed a value for placeholder tensor 'x:0'"):
        GraphSession(placeholder_control_graph()).run("one:0")


def test_control_dependency_on_another_fed_node_still_runs_it() -> None:
    """TF only redirects a fed Placeholder's control edges; another fed node keeps running."""
    g = graph(
        placeholder("p"),
        node("q", "Identity", "p", T=type_attr(F)),
        const("one", np.float32(1), "^q"),
    )
    sess = GraphSession(g)
    with pytest.raises(ExecutionError, match="must feed a value for placeholder tensor 'p:0'"):
        sess.run("one:0", {"q:0": np.float32(5)})
    assert sess.run("one:0", {"q:0": np.float32(5), "p:0": np.float32(0)}) == np.float32(1)


# ---------------------------------------------------------------- 4. the policy's limits at every entry point


def random_graph(count: int):
    return graph(
        const("shape", np.array([count], np.int32)),
        node("r", "RandomUniform", "shape", T=type_attr(I32), dtype=type_attr(F)),
    )


LOW = Policy(limits=Limits(max_bytes_per_tensor=2000))


def test_runtime_session_runs_under_its_policy_limits() -> None:
    # 300 float32 = 1200 bytes of output, but the random kernel sizes its request at 8 bytes per
    # element (2400) against the limits active while it runs: the policy's, not the defaults.
    assert GraphSession(random_graph(300)).run("r:0").shape == (300,)
    with pytest.raises(LimitExceededError, match="random op shape"):
        GraphSession(random_graph(300), policy=LOW).run("r:0")
    assert GraphSession(random_graph(200), policy=LOW).run("r:0").shape == (200,)


def test_compat_v1_session_runs_under_its_policy_limits() -> None:
    tf1 = tf.compat.v1
    imported = tf1.Graph()
    imported.import_graph_def(random_graph(300))
    with tf1.Session(graph=imported) as sess:
        assert sess.run("r:0").shape == (300,)
    with tf1.Session(graph=imported, policy=LOW) as sess:
        with pytest.raises(LimitExceededError, match="random op shape"):
            sess.run("r:0")


def test_constants_are_decoded_under_the_policy_limits_while_compiling() -> None:
    g = graph(const("big", np.zeros(1000, np.float32)))
    assert GraphSession(g).run("big:0").shape == (1000,)
    with pytest.raises(LimitExceededError, match="TensorProto"):
        GraphSession(g, policy=LOW).run("big:0")


def test_restored_function_calls_run_under_the_policy_limits(monkeypatch) -> None:
    """Kernels take the policy's limits from their call context; no global is set per call."""
    seen: list[Limits] = []
    real = runner.StepPlan._execute

    def spy(self, ctx, args):
        seen.append(limits_of(ctx))
        return real(self, ctx, args)

    limits = Limits(max_bytes_per_tensor=1 << 20)
    loaded = savedmodel.load(SEED / "tf2-save", policy=Policy(limits=limits))
    monkeypatch.setattr(runner.StepPlan, "_execute", spy)
    assert active_limits() is DEFAULT_LIMITS
    loaded.__call__(5.0)
    assert seen and all(s is limits for s in seen)
    assert active_limits() is DEFAULT_LIMITS
