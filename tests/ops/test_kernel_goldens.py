"""Every kernel against TensorFlow's own outputs (goldens made by tools/oracle/make_kernel_goldens.py)."""

from __future__ import annotations

import pytest

from savedmodel.errors import ExecutionError
from savedmodel.ops.registry import all_kernels, extra_available, lookup
from tests.ops import golden

# The kernel families this suite covers (control flow, resources, I/O... are tested elsewhere).
FAMILIES = {
    "math",
    "array",
    "nn",
    "strings",
    "image",
    "random",
    "linalg",
    "sparse",
    "parsing",
    "quantization",
}

# Ops with a kernel but no value golden, and why. Keep this short.
NO_GOLDEN: dict[str, str] = {}

_CASES = golden.cases()


@pytest.mark.parametrize("entry", _CASES, ids=[c["id"] for c in _CASES])
def test_kernel_matches_tensorflow(entry: dict) -> None:
    extra = lookup(entry["op"]).extra
    if extra and not extra_available(extra):
        pytest.skip(f"needs the optional extra {extra!r}")
    if entry.get("tf_cpu_unsupported"):
        pytest.skip("TensorFlow's CPU kernel refuses this case; ours supports it")
    if "error" in entry:
        if "No OpKernel was registered" in entry.get("error_message", ""):
            pytest.skip("TensorFlow has no CPU kernel for this dtype; ours is an extension")
        with pytest.raises(ExecutionError):
            golden.run(entry)
        return
    golden.assert_matches(entry, golden.run(entry))


def test_every_registered_op_has_a_golden_case() -> None:
    covered = {c["op"] for c in _CASES if "error" not in c}
    missing = sorted(
        op
        for op, k in all_kernels().items()
        if k.family in FAMILIES and op not in covered and op not in NO_GOLDEN
    )
    assert not missing, f"ops without a golden case: {missing}"


def test_no_golden_exceptions_are_registered_ops() -> None:
    stale = sorted(op for op in NO_GOLDEN if op not in all_kernels())
    assert not stale, f"NO_GOLDEN lists ops that have no kernel: {stale}"
