"""Every registered op has at least one golden test against TensorFlow.

An op counts as covered when a kernel golden case runs it (tests/ops/golden.py, cases
without "error") or when a SavedModel fixture that a golden test runs uses it (graph
nodes or library functions). The set is computed from the fixtures, so adding a kernel
without a golden fails here.
"""

from __future__ import annotations

import functools
from pathlib import Path

from savedmodel.format.saved_model import read_saved_model
from savedmodel.ops.registry import all_kernels
from tests.conftest import FIXTURES
from tests.corpus.test_corpus import EXPECTED_ERROR, EXPECTED_MISMATCH, EXPECTED_UNSUPPORTED
from tests.ops import golden

# Fixture areas whose SavedModels are run and compared with TensorFlow's outputs.
GOLDEN_AREAS = ("seed", "runtime", "runtime_ops", "corpus", "cli", "serving", "legacy", "training")
# Corpus cases known not to match TensorFlow yet do not count as coverage.
CORPUS_GAPS = set(EXPECTED_UNSUPPORTED) | set(EXPECTED_MISMATCH) | set(EXPECTED_ERROR)

# Registered ops TensorFlow never writes into a SavedModel, so no golden model can hold them.
EXCEPTIONS: dict[str, str] = {
    "_Arg": "function arguments are FunctionDef input_args; TF only makes _Arg nodes when it "
    "instantiates a function, never in a saved graph",
    "PlaceholderV2": "removed at GraphDef version 23: TF refuses to build or import it at the "
    "current producer version",
    "VariableV1": "not a TensorFlow op (the Python name of tf.compat.v1.Variable); an alias of VariableV2",
}


def _saved_model_dirs() -> list[Path]:
    dirs = []
    for area in GOLDEN_AREAS:
        for pb in sorted((FIXTURES / area).rglob("saved_model.pb*")):
            if area == "corpus" and pb.relative_to(FIXTURES / area).parts[0] in CORPUS_GAPS:
                continue
            dirs.append(pb.parent)
    return dirs


@functools.cache
def fixture_ops() -> frozenset[str]:
    ops: set[str] = set()
    for directory in _saved_model_dirs():
        for meta_graph in read_saved_model(directory).meta_graphs:
            ops.update(node.op for node in meta_graph.graph_def.node)
            for function in meta_graph.graph_def.library.function:
                ops.update(node.op for node in function.node_def)
    return frozenset(ops)


def kernel_golden_ops() -> set[str]:
    return {case["op"] for case in golden.cases() if "error" not in case}


def test_fixture_models_are_found() -> None:
    assert {p.relative_to(FIXTURES).parts[0] for p in _saved_model_dirs()} == set(GOLDEN_AREAS)


def test_every_registered_op_has_a_golden() -> None:
    covered = kernel_golden_ops() | fixture_ops()
    missing = sorted(set(all_kernels()) - covered - set(EXCEPTIONS))
    assert not missing, f"registered ops without a TensorFlow golden: {missing}"


def test_exceptions_are_registered_and_still_uncovered() -> None:
    registered = set(all_kernels())
    assert not set(EXCEPTIONS) - registered, "exception for an op that is no longer registered"
    stale = set(EXCEPTIONS) & (kernel_golden_ops() | fixture_ops())
    assert not stale, f"ops now covered by a golden; drop their exceptions: {sorted(stale)}"
