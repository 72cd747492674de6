"""Signature plans that run on onnxruntime where the graph exports (see the package docstring).

A plan is built from a trace, one NumPy run of the flat graph that records every tensor: at load
with generated inputs when every input is numeric, else on the first call with its inputs (that
call's result is the NumPy run's). The trace gives converters dtypes and ranks, gives folded
tensors their values, and is what each ONNX region's outputs are checked against. A later call
whose inputs differ in rank from the trace's runs on the NumPy plan.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from savedmodel.backends.onnx.flatten import VARIABLE_READS, FlatGraph, flatten, foldable
from savedmodel.backends.onnx.hybrid import HybridResult, Partition, build_hybrid
from savedmodel.errors import FormatError
from savedmodel.graph.names import parse_tensor_name
from savedmodel.ops._resources import RefBuffer, VariableResource
from savedmodel.runtime import prepare as plan_module
from savedmodel.runtime.plan import Plan, compile_plan
from savedmodel.runtime.structure import SignatureTensorSpec

Ref = tuple[str, int]
THREADS_VARIABLE = "SAVEDMODEL_ONNX_THREADS"


def flatten_signature(
    session: Any, inputs: Sequence[SignatureTensorSpec], outputs: Sequence[SignatureTensorSpec]
) -> FlatGraph:
    feeds = [parse_tensor_name(s.tensor_name) for s in inputs]
    fetches = [parse_tensor_name(s.tensor_name) for s in outputs]
    return flatten(session.graph, feeds, fetches)


def trace(runtime: Any, flat: FlatGraph, args: Sequence[Any]) -> dict[Ref, Any]:
    """Every tensor of the flat graph's needed nodes, from one NumPy run on `args`."""
    graph = flat.graph
    fed = set(flat.feeds)
    refs: list[Ref] = []
    targets: list[str] = []
    for name in sorted(flat.needed):
        count = graph.layout(name).count
        if count == 0:
            targets.append(name)
        refs.extend(ref for ref in ((name, i) for i in range(count)) if ref not in fed)
    traced = compile_plan(runtime, graph, flat.feeds, refs, targets, name=f"{graph.where} (trace)")
    values = dict(zip(refs, traced.run(runtime.new_context(), list(args)), strict=True))
    values.update(zip(flat.feeds, args, strict=True))
    return values


def example_inputs(specs: Sequence[SignatureTensorSpec], strings: bool = False) -> list[np.ndarray] | None:
    """Inputs to trace with (unknown dims 1), or None when an input is not numeric (with
    `strings`, string inputs are empty strings instead)."""
    values = []
    for spec in specs:
        dtype = np.dtype(spec.dtype)
        if spec.shape is None or dtype.kind not in ("fiubO" if strings else "fiub"):
            return None
        shape = tuple(1 if d is None else d for d in spec.shape)
        count = int(np.prod(shape))
        if dtype.kind == "O":
            value = np.full(shape, b"", dtype=object)
        elif dtype.kind == "f":
            value = (np.arange(count) % 7 / 7.0 + 0.05).astype(dtype).reshape(shape)
        else:
            value = np.zeros(shape, dtype)
        values.append(value)
    return values


# Stateful ops that only read state: a signature made of these and stateless ops can be traced
# at load on generated inputs. Any other stateful op (an assignment, a random op, a table
# insert...) must not run an extra time: such a signature is traced by its first real call.
READ_ONLY_STATEFUL = frozenset(
    {
        "ReadVariableOp",
        "ResourceGather",
        "VarHandleOp",
        "VariableV2",
        "Variable",
        "HashTableV2",
        "LookupTableFindV2",
        "LookupTableSizeV2",
        "NoOp",
    }
)


def traceable_at_load(flat: FlatGraph) -> bool:
    graph = flat.graph
    return all(
        graph.nodes[n].op in READ_ONLY_STATEFUL or not plan_module.is_stateful(graph.nodes[n].op)
        for n in flat.needed
    )


def has_dataflow(flat: FlatGraph) -> bool:
    """TF1 control flow (Switch/Merge/Enter/Exit/NextIteration): the dataflow executor's domain."""
    return any(flat.graph.nodes[n].op in plan_module.DATAFLOW_OPS for n in flat.needed)


def hybrid_allowed(flat: FlatGraph, fixed: set[str]) -> bool:
    """False for graphs the straight executor cannot run (TF1 control flow, live references)."""
    blocked = plan_module.DATAFLOW_OPS | plan_module.REF_PRODUCERS
    return not any(flat.graph.nodes[n].op in blocked for n in flat.needed if n not in fixed)


def _threads() -> int | None:
    """onnxruntime's intra-op threads: $SAVEDMODEL_ONNX_THREADS, else the CPUs this process may
    use (onnxruntime's own default counts the host's cores, too many in a container or cgroup)."""
    value = os.environ.get(THREADS_VARIABLE)
    if value and value.isdigit() and int(value) > 0:
        return int(value)
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else None


class OnnxPlan(Plan):
    """A signature's plan on the onnxruntime backend (the NumPy plan where it cannot be)."""

    def __init__(self, runtime: Any, numpy_plan: Plan, flat: FlatGraph, name: str) -> None:
        self.name = name
        self.runtime = runtime
        self.numpy_plan = numpy_plan
        self.flat = flat
        dataflow = has_dataflow(flat)
        self.fold_variables = True
        self.fixed = set() if dataflow else foldable(flat)
        self.allowed = not dataflow and hybrid_allowed(flat, self.fixed)
        self.hybrid: HybridResult | None = None
        self.ranks: tuple[int, ...] | None = None
        # (variable, its value when folded): another signature or function that assigns one of
        # the model's variables makes the plan rebuild with variable reads left live.
        self.watched: list[tuple[Any, Any]] = []
        self._lock = threading.Lock()

    @property
    def partition(self) -> Partition | None:
        return self.hybrid.partition if self.hybrid else None

    def build(self, args: Sequence[Any]) -> list[Any]:
        """Trace on `args` (a NumPy run: its errors are the call's), build the hybrid plan;
        returns the trace's fetches. A plan that cannot be built leaves the signature on NumPy."""
        self.fixed = foldable(self.flat, self.fold_variables)
        values = trace(self.runtime, self.flat, args)
        fetched = [values[ref] for ref in self.flat.fetches]
        self.allowed = hybrid_allowed(self.flat, self.fixed)  # live TF1 references: NumPy only
        if not self.allowed:
            return fetched
        try:
            self.hybrid = build_hybrid(self.runtime, self.flat, values, self.fixed, _threads(), self.name)
        except Exception:  # noqa: BLE001 - an exporter failure costs speed, never the result
            self.allowed = False
            return fetched
        self.ranks = tuple(np.ndim(a) for a in args)
        folded = any(self.flat.graph.nodes[n].op in VARIABLE_READS for n in self.fixed)
        self.watched = variable_values(self.runtime) if folded else []
        return fetched

    def _variables_changed(self) -> bool:
        return any(variable.value is not value for variable, value in self.watched)

    def _execute(self, ctx: Any, args: Sequence[Any]) -> list[Any]:
        if not self.allowed:
            return self.numpy_plan._execute(ctx, args)
        hybrid = self.hybrid
        if hybrid is None:
            with self._lock:
                if self.hybrid is None:
                    return self.build(args)
                hybrid = self.hybrid
        if self.watched and self._variables_changed():
            with self._lock:
                if self.watched and self._variables_changed():
                    self.fold_variables = False
                    self.watched = []
                    self.hybrid = None  # a failed rebuild leaves nothing stale to run
                    return self.build(args)
                hybrid = self.hybrid
        if not self.allowed or tuple(np.ndim(a) for a in args) != self.ranks:
            return self.numpy_plan._execute(ctx, args)
        return hybrid.plan._execute(ctx, args)  # type: ignore[union-attr]


def variable_values(runtime: Any) -> list[tuple[Any, Any]]:
    """Every variable of the runtime with its current value (kernels replace a variable's array
    when they assign it, never write into it, so identity tells a change)."""
    return [
        (item, item.value)
        for _, item in runtime.resources.items()
        if isinstance(item, (VariableResource, RefBuffer))
    ]


def accelerate(loaded: Any) -> None:
    """Give every working signature of `loaded` an OnnxPlan (built now where inputs are numeric)."""
    session = loaded.session
    for key, signature in loaded.signatures.items():
        if signature.plan is None:
            continue
        try:
            flat = flatten_signature(session, signature.inputs, signature.outputs)
        except FormatError:  # a TF1 while loop (a cycle through NextIteration): NumPy only
            continue
        plan = OnnxPlan(session.runtime, signature.plan, flat, f"{session.graph.where}, signature {key!r}")
        examples = example_inputs(signature.inputs)
        if plan.allowed and examples is not None and traceable_at_load(flat):
            try:
                plan.build(examples)
            except Exception:  # noqa: BLE001 - generated inputs a model rejects: build on first call
                plan.hybrid = None
        signature.plan = plan


def summary(loaded: Any) -> Mapping[str, Any]:
    """Per signature: regions, exported and NumPy node counts, and why nodes stayed on NumPy."""
    out: dict[str, Any] = {}
    for key, signature in loaded.signatures.items():
        plan = signature.plan
        if not isinstance(plan, OnnxPlan) or plan.partition is None:
            out[key] = None
            continue
        partition = plan.partition
        exported = sum(len(r) for r in partition.regions)
        out[key] = {
            "regions": len(partition.regions),
            "exported_nodes": exported,
            "numpy_nodes": len(partition.order) - exported,
            "blocked": dict(partition.blocked),
        }
    return out
