"""How long the default limits take to stop endless loops and deep nesting.

    python benchmarks/bench_loop_limits.py [--chain 100000]

Times, under the default policy (savedmodel.policy.Limits), the call that trips the
iteration limit for tight endless loops in each executor (TF2 While; a TF1 frame on the
fast path and on the dataflow executor) and for the mutated TF-made models of the
malformed suite (tests/hardening/mutations.py); then the load and call of a graph with
`--chain` Identity nodes in a row and of 300 nested function calls. Not a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import savedmodel  # noqa: E402
from savedmodel.format import dtypes  # noqa: E402
from savedmodel.runtime import plan  # noqa: E402
from tests.graph_builder import F32, node, placeholder, tensor_info, type_attr, write_model, zeros_for  # noqa: E402
from tests.hardening import test_hangs, test_malformed  # noqa: E402


def _call(path: Path) -> tuple[float, float, str]:
    """(load seconds, call seconds, outcome) for the model's first signature, inputs of zeros."""
    start = time.perf_counter()
    signature = next(iter(savedmodel.load(path).signatures.values()))
    loaded = time.perf_counter()
    values = {}
    for key, spec in signature.input_specs.items():
        dims = [1] if spec.shape is None else [1 if d is None or d < 0 else d for d in spec.shape]
        values[key] = zeros_for(spec.dtype_enum or dtypes.from_numpy(spec.dtype), dims)
    try:
        signature(**values)
        outcome = "ok"
    except savedmodel.SavedModelError as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    return loaded - start, time.perf_counter() - loaded, outcome


def _report(label: str, build: Callable[[Path], Path], tmp: Path) -> None:
    path = build(tmp / label.replace(" ", "_").replace(":", "_"))
    load_s, call_s, outcome = _call(path)
    print(f"{label:48s} load {load_s:6.2f} s  call {call_s:6.2f} s  {outcome[:120]}")


def _tight(executor: str) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        tmp.mkdir(parents=True)
        return test_hangs._endless_model(tmp, "tf2-while" if executor == "tf2-while" else "tf1")

    return build


def _identity_chain(length: int) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        nodes = [placeholder("x", F32, [2])]
        for i in range(length):
            nodes.append(node(f"n{i}", "Identity", f"n{i - 1}" if i else "x", T=type_attr(F32)))
        nodes.append(node("y", "Neg", f"n{length - 1}", T=type_attr(F32)))
        io = {"x": tensor_info("x:0", F32, [2])}
        return write_model(tmp, nodes, io, {"y": tensor_info("y:0", F32, None)})

    return build


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", type=int, default=100_000, help="Identity nodes in a row (default 100000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        _report("tight loop: TF2 While", _tight("tf2-while"), tmp)
        _report("tight loop: TF1 fast path", _tight("tf1"), tmp)
        plan.STRUCTURED_CONTROL_FLOW = False
        try:
            _report("tight loop: TF1 dataflow executor", _tight("tf1"), tmp)
        finally:
            plan.STRUCTURED_CONTROL_FLOW = True
        for case in test_malformed._mutation_cases():
            _report(case.name, case.build, tmp)
        _report(f"graph: {args.chain} Identity nodes in a row", _identity_chain(args.chain), tmp)
        _report("graph: 300 nested function calls", lambda t: test_hangs._chain_model(t, 300), tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
