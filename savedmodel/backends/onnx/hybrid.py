"""A signature run by onnxruntime where its ops export, by the NumPy kernels elsewhere.

`build_hybrid` takes a flat graph (see `flatten`) and a trace (every tensor's value from one NumPy
run) and:
1. folds what never changes between calls (constants, variable reads) into fixed values;
2. tries each remaining node's converter: what does not export (strings, tables, TensorList,
   functional control flow, attrs the converter refuses) stays a NumPy node, with the reason kept;
3. orders the nodes so that exportable ones form the longest runs (Kahn's algorithm that keeps
   taking nodes of the kind it is taking while any is ready), each run one ONNX model;
4. checks each region's outputs against the trace; a node whose output differs, or which
   onnxruntime refuses (no kernel for a dtype), goes back to NumPy and the partition is redone.

The result is a StepPlan whose steps are NumPy kernels and onnxruntime sessions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from savedmodel.backends.onnx.builder import (
    EXPORTABLE_DTYPES,
    NotExportable,
    OnnxModel,
    RegionBuilder,
    contiguous,
    convert_node,
    tensor_name,
)
from savedmodel.backends.onnx.flatten import FlatGraph
from savedmodel.errors import FormatError
from savedmodel.graph.model import GraphModel
from savedmodel.runtime import prepare as plan_module
from savedmodel.runtime.runner import Step, StepPlan

Ref = tuple[str, int]
# Regions made only of these do no work worth a call into onnxruntime.
TRIVIAL_OPS = frozenset({"Identity", "IdentityN", "StopGradient", "Snapshot", "NoOp", "Shape", "Cast"})
MAX_REPARTITIONS = 50
# Relative error (to the largest magnitude of the tensor) a region's output may show against NumPy.
TOLERANCE = {np.dtype("float16"): 2e-2, np.dtype("float32"): 2e-3, np.dtype("float64"): 1e-9}


def resource_value(handle: Any) -> np.ndarray:
    read = getattr(handle, "read", None)
    if read is None:
        raise NotExportable("reads something that is not a variable")
    return np.asarray(read())


@dataclass
class Partition:
    order: list[str]  # every node to run (not fixed, not fed), in run order
    regions: list[list[str]]  # runs of exported nodes, in order
    blocked: dict[str, str] = field(default_factory=dict)  # node -> why it runs on NumPy


def order_for_runs(graph: GraphModel, nodes: set[str], fed: set[Ref], exported: set[str]) -> list[str]:
    """A topological order of `nodes` in which exported nodes form maximal runs."""
    indegree = dict.fromkeys(nodes, 0)
    consumers: dict[str, list[str]] = {n: [] for n in nodes}
    for name in nodes:
        node = graph.nodes[name]
        sources = {src[0] for src in node.inputs if src not in fed} | set(node.control)
        for src in sources & nodes:
            indegree[name] += 1
            consumers[src].append(name)
    position = {name: i for i, name in enumerate(graph.nodes)}
    ready: dict[bool, list[str]] = {True: [], False: []}
    for name, degree in indegree.items():
        if degree == 0:
            ready[name in exported].append(name)
    for queue in ready.values():
        queue.sort(key=position.__getitem__, reverse=True)
    order: list[str] = []
    kind = bool(ready[False]) is False  # start with NumPy work when there is some
    while ready[True] or ready[False]:
        if not ready[kind]:
            kind = not kind
        name = ready[kind].pop()
        order.append(name)
        for dst in consumers[name]:
            indegree[dst] -= 1
            if indegree[dst] == 0:
                queue = ready[dst in exported]
                queue.append(dst)
                queue.sort(key=position.__getitem__, reverse=True)
    if len(order) != len(nodes):
        raise FormatError("the graph has a cycle")
    return order


class Exporter:
    """Partitions a flat graph and builds its ONNX regions."""

    def __init__(self, flat: FlatGraph, values: Mapping[Ref, Any], fixed: set[str]) -> None:
        self.flat = flat
        self.graph = flat.graph
        self.values = values
        self.fixed = fixed
        self.fed = set(flat.feeds)
        self.blocked: dict[str, str] = {}
        self.derived_arrays: dict[Any, np.ndarray] = {}
        self.nodes = {n for n in flat.needed if n not in fixed and (n, 0) not in self.fed}

    def builder(self) -> RegionBuilder:
        builder = RegionBuilder(self.values, self.fixed, resource_value)
        builder.graph = self.graph
        builder.derived_arrays = self.derived_arrays
        return builder

    def probe(self) -> None:
        """Try each node's converter on its own; record why those that fail cannot export."""
        for name in sorted(self.nodes):
            if name in self.blocked:
                continue
            node = self.graph.nodes[name]
            if node.op in plan_module.DATAFLOW_OPS:
                self.blocked[name] = "TF1 control flow"
                continue
            try:
                convert_node(self.builder(), node)
            except NotExportable as exc:
                self.blocked[name] = str(exc)
            except Exception as exc:  # noqa: BLE001 - a converter that fails keeps its NumPy kernel
                self.blocked[name] = f"converter failed: {type(exc).__name__}: {exc}"

    def partition(self) -> Partition:
        exported = self.nodes - set(self.blocked)
        order = order_for_runs(self.graph, self.nodes, self.fed, exported)
        regions: list[list[str]] = []
        run: list[str] = []
        for name in [*order, None]:
            if name is not None and name in exported:
                run.append(name)
                continue
            if run and any(self.graph.nodes[n].op not in TRIVIAL_OPS for n in run):
                regions.append(run)
            run = []
        return Partition(order, regions, dict(self.blocked))

    def consumed_outside(self, region: list[str], order: list[str]) -> list[Ref]:
        """Tensors of `region` read by nodes outside it or fetched."""
        members = set(region)
        wanted: dict[Ref, None] = {}
        for name in order:
            if name in members:
                continue
            for src in self.graph.nodes[name].inputs:
                if src[0] in members:
                    wanted[src] = None
        for ref in self.flat.fetches:
            if ref[0] in members:
                wanted[ref] = None
        return list(wanted)

    def build_region(
        self, region: list[str], outputs: Sequence[Ref]
    ) -> tuple[OnnxModel, list[Ref], list[str]]:
        """The ONNX model of `region` producing `outputs`: (model, input refs, output names)."""
        builder = self.builder()
        for name in region:
            convert_node(builder, self.graph.nodes[name])
        names = []
        for ref in outputs:
            name = builder.names.get(ref)
            if name is None:
                raise NotExportable(f"output {ref[1]} of {ref[0]} is not produced by its converter")
            if name in builder.initializers or ref in builder.inputs or name in builder.inputs.values():
                builder.current = ref[0]
                name = builder.op1("Identity", [name])
            names.append(name)
        dtypes = [np.asarray(self.values[ref]).dtype for ref in outputs]
        model = builder.model(list(zip(names, dtypes, strict=True)))
        return model, list(builder.inputs), names


def session_for(model: OnnxModel, threads: int | None) -> Any:
    """An onnxruntime session of `model` (its external initializers passed as arrays, not copied)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Worker threads that spin between ops cost more than they save when the CPU is shared
    # (a server's other threads, other processes): they sleep instead.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    names = list(model.external)
    values = [ort.OrtValue.ortvalue_from_numpy(model.external[n]) for n in names]
    if names:
        options.add_external_initializers(names, values)
    session = ort.InferenceSession(
        model.proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    # onnxruntime reads external initializers where they lie for as long as the session lives.
    session.savedmodel_external = values
    return session


# How onnxruntime's errors name a node: "Node (NAME) Op (...)", "node with name 'NAME'".
_NODE_IN_ERROR = re.compile(r"[Nn]ode \(([^|)]*)\||node with name '([^'|]*)\|")


def blamed_node(error: Exception, region: Sequence[str]) -> str:
    """The TensorFlow node of `region` an onnxruntime error names (ONNX node names start
    `<tf node>|`), else the region's first node."""
    for match in _NODE_IN_ERROR.finditer(str(error)):
        name = match.group(1) or match.group(2)
        if name in region:
            return name
    return region[0]


def close_enough(actual: Any, expected: Any) -> bool:
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape or actual.dtype != expected.dtype:
        return False
    tolerance = TOLERANCE.get(expected.dtype)
    if tolerance is None:
        return bool(np.array_equal(actual, expected))
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    if not np.array_equal(np.isnan(a), np.isnan(e)):
        return False
    finite = np.isfinite(e)
    if not np.array_equal(a[~finite & ~np.isnan(e)], e[~finite & ~np.isnan(e)]):
        return False
    if not finite.any():
        return True
    scale = max(float(np.max(np.abs(e[finite]))), 1e-30)
    return float(np.max(np.abs(a[finite] - e[finite]))) <= tolerance * scale + 1e-6


class Region:
    """One onnxruntime session standing for a run of nodes."""

    def __init__(self, session: Any, inputs: list[Ref], input_names: list[str], output_names: list[str]):
        self.session = session
        self.inputs = inputs
        self.input_names = input_names
        self.output_names = output_names

    def __call__(self, ctx: Any, *args: Any) -> list[Any]:
        feed = {name: contiguous(value) for name, value in zip(self.input_names, args, strict=True)}
        return self.session.run(self.output_names, feed)


def verify(exporter: Exporter, region: list[str], outputs: list[Ref], threads: int | None) -> Region:
    """The region's session, its outputs checked against the trace; NotExportable blames a node."""
    model, input_refs, names = exporter.build_region(region, outputs)
    try:
        session = session_for(model, threads)
    except Exception as exc:  # noqa: BLE001 - onnxruntime refusing a model is an ordinary outcome
        named = blamed_node(exc, region)
        if named == region[0] and len(region) > 1:
            named = _first_refused(exporter, region) or named
        raise _Blame(named, f"onnxruntime refused it: {exc}") from None
    region_run = Region(session, input_refs, [tensor_name(r) for r in input_refs], names)
    try:
        results = region_run(None, *[exporter.values[ref] for ref in input_refs])
    except Exception as exc:  # noqa: BLE001
        raise _Blame(blamed_node(exc, region), f"onnxruntime failed: {exc}") from None
    if all(close_enough(r, exporter.values[ref]) for r, ref in zip(results, outputs, strict=True)):
        return region_run
    raise _Blame(_first_mismatch(exporter, region, threads), "its result differs from the NumPy kernel's")


class _Blame(Exception):
    def __init__(self, node: str, reason: str) -> None:
        super().__init__(reason)
        self.node = node
        self.reason = reason


def _first_refused(exporter: Exporter, region: list[str]) -> str | None:
    """The first node of `region` that onnxruntime refuses on its own (when its error named none)."""
    for name in region:
        if (name, 0) not in exporter.values:
            continue
        try:
            session_for(exporter.build_region([name], [(name, 0)])[0], 1)
        except NotExportable:
            continue
        except Exception:  # noqa: BLE001
            return name
    return None


def _first_mismatch(exporter: Exporter, region: list[str], threads: int | None) -> str:
    """The first node of `region` whose own outputs differ from the trace."""
    refs = [
        (name, i)
        for name in region
        for i in range(max(exporter.graph.layout(name).count, 1))
        if (name, i) in exporter.values and np.asarray(exporter.values[(name, i)]).dtype in EXPORTABLE_DTYPES
    ]
    try:
        model, input_refs, names = exporter.build_region(region, refs)
    except NotExportable:
        return region[0]
    produced = list(zip(refs, names, strict=True))
    try:
        session = session_for(model, threads)
        results = session.run(
            [n for _, n in produced],
            {tensor_name(r): contiguous(exporter.values[r]) for r in input_refs},
        )
    except Exception as exc:  # noqa: BLE001 - the debugging model itself fails: blame what it names
        return blamed_node(exc, region)
    for (ref, _), result in zip(produced, results, strict=True):
        if not close_enough(result, exporter.values[ref]):
            return ref[0]
    return region[0]


@dataclass
class HybridResult:
    plan: StepPlan
    partition: Partition
    regions: list[Region]


def export_regions(exporter: Exporter, threads: int | None) -> tuple[Partition, list[Region]]:
    """Partition, build and check every region, moving blamed nodes to NumPy until all pass."""
    exporter.probe()
    checked: dict[tuple, Region] = {}  # regions that passed, kept across repartitions
    for _ in range(MAX_REPARTITIONS):
        partition = exporter.partition()
        regions: list[Region] = []
        try:
            for region in partition.regions:
                outputs = exporter.consumed_outside(region, partition.order)
                key = (tuple(region), tuple(outputs))
                if key not in checked:
                    checked[key] = verify(exporter, region, outputs, threads)
                regions.append(checked[key])
        except _Blame as blame:
            exporter.blocked[blame.node] = blame.reason
            continue
        except NotExportable as exc:
            exporter.blocked[partition.regions[len(regions)][0]] = str(exc)
            continue
        return partition, regions
    partition = Partition(exporter.partition().order, [], dict(exporter.blocked))
    return partition, []


def build_hybrid(
    runtime: Any,
    flat: FlatGraph,
    values: Mapping[Ref, Any],
    fixed: set[str],
    threads: int | None = None,
    name: str = "signature",
) -> HybridResult:
    exporter = Exporter(flat, values, fixed)
    partition, regions = export_regions(exporter, threads)
    graph = flat.graph
    template: list[Any] = []
    slots: dict[Ref, int] = {}
    for ref in flat.feeds:
        if ref not in slots:
            slots[ref] = len(template)
            template.append(None)

    def slot(ref: Ref) -> int:
        found = slots.get(ref)
        if found is None:
            if ref[0] not in fixed:
                raise FormatError(f"{name}: tensor {tensor_name(ref)} is read before it is computed")
            found = slots[ref] = len(template)
            template.append(values[ref])
        return found

    first = {region[0]: (region, run) for region, run in zip(partition.regions, regions, strict=True)}
    in_region = {n for region in partition.regions for n in region}
    steps: list[Step] = []
    for node_name in partition.order:
        if node_name in first:
            region, run = first[node_name]
            outputs = exporter.consumed_outside(region, partition.order)
            inputs = tuple(slot(ref) for ref in run.inputs)
            base = len(template)
            template.extend([None] * len(outputs))
            for i, ref in enumerate(outputs):
                slots[ref] = base + i
            steps.append(Step(run, inputs, base, 1, len(outputs), node_name, "onnxruntime"))
            continue
        if node_name in in_region:
            continue
        node = graph.nodes[node_name]
        layout = graph.layout(node_name)
        kernel = plan_module.prepare_node(node, graph.library, graph.where)
        inputs = tuple(slot(src) for src in node.inputs)
        base = len(template)
        width = max(layout.count, 1)
        template.extend([None] * width)
        for i in range(width):
            slots[(node_name, i)] = base + i
        mode = 0 if layout.single else (1 if layout.count else 2)
        if node.op in graph.library:
            mode = 1
        steps.append(Step(kernel, inputs, base, mode, layout.count, node_name, node.op))
    fetch_slots = [slot(ref) for ref in flat.fetches]
    plan = StepPlan(name, template, [slots[f] for f in flat.feeds], steps, fetch_slots)
    return HybridResult(plan, partition, regions)
