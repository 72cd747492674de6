"""`savedmodel convert --to onnx`: one signature as one ONNX model, or the ops that block it.

The signature is flattened and traced as for the onnxruntime backend (savedmodel.backends.onnx.
backend); every node that is not folded must export, else the report lists each blocking op
with its nodes and the reason. The model's inputs and outputs are named by the signature's
keys; before writing, onnxruntime runs it on the trace's inputs and its outputs are compared
with the NumPy kernels' (the report gives the largest difference).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from savedmodel.backends.onnx.backend import example_inputs, flatten_signature, has_dataflow, trace
from savedmodel.backends.onnx.builder import OnnxModel, convert_node, make_node
from savedmodel.backends.onnx.flatten import foldable
from savedmodel.backends.onnx.hybrid import Exporter, close_enough, order_for_runs, session_for
from savedmodel.convert.report import Report
from savedmodel.errors import FormatError, InvalidInputError, SavedModelError
from savedmodel.format.atomic import atomic_write_bytes

SHOWN_NODES = 3


def _blockers(blocked: Mapping[str, str], ops: Mapping[str, str]) -> list[str]:
    """'op X (2 nodes: a, b): reason' per op and reason, most frequent first."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for node, reason in sorted(blocked.items()):
        grouped.setdefault((ops[node], reason), []).append(node)
    lines = []
    for (op, reason), nodes in sorted(grouped.items(), key=lambda item: (-len(item[1]), item[0])):
        shown = ", ".join(nodes[:SHOWN_NODES]) + (", ..." if len(nodes) > SHOWN_NODES else "")
        count = f"{len(nodes)} node{'s' if len(nodes) > 1 else ''}"
        lines.append(f"op {op} ({count}: {shown}): {reason}")
    return lines


def _pick_signature(loaded: Any, key: str | None) -> str:
    keys = [k for k in loaded.signatures if loaded.signatures[k].plan is not None]
    if key:
        loaded.signatures[key]  # noqa: B018 - raises naming the available keys
        return key
    if "serving_default" in keys:
        return "serving_default"
    if len(keys) == 1:
        return keys[0]
    raise InvalidInputError(f"pass --signature_def: the model has {len(keys)} signatures ({', '.join(keys)})")


def export_onnx(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str] | None,
    signature: str | None = None,
    tags: Sequence[str] | None = None,
    dry_run: bool = False,
    overwrite: bool = False,
) -> tuple[Report, Any]:
    """Export one signature of the SavedModel at `path` (see the module docstring).

    Returns the report and the ModelProto (None when blocked); writes `output` unless `dry_run`."""
    import savedmodel

    loaded = savedmodel.load(path, list(tags) if tags else None, backend="numpy")
    key = _pick_signature(loaded, signature)
    function = loaded.signatures[key]
    report = Report(str(path), str(output) if output else None, kind="onnx")
    report.signatures[key] = function.signature_def.method_name
    if function.plan is None:
        report.block(str(function.error))
        return report, None
    try:
        flat = flatten_signature(loaded.session, function.inputs, function.outputs)
    except FormatError:
        report.block("TF1 while loop (Enter/Exit/NextIteration): control flow v1 does not export")
        return report, None
    ops = {name: node.op for name, node in flat.graph.nodes.items()}
    if has_dataflow(flat):
        dataflow = {
            n: "TF1 control flow (Switch/Merge) does not export"
            for n in flat.needed
            if ops[n] in ("Switch", "Merge", "Enter", "Exit", "NextIteration", "RefSwitch")
        }
        report.blockers.extend(_blockers(dataflow, ops))
        return report, None
    for spec in function.inputs:
        if np.dtype(spec.dtype).kind not in "fiub" or spec.shape is None:
            report.block(f"input {spec.describe()}: only numeric tensors of known rank export")
    args = example_inputs(function.inputs, strings=True)
    if args is None:
        return report, None
    try:
        values = trace(loaded.session.runtime, flat, args)
    except SavedModelError as exc:
        report.block(f"cannot trace the signature on generated inputs ({exc})")
        return report, None
    exporter = Exporter(flat, values, foldable(flat))
    exporter.probe()
    if exporter.blocked or not report.ok:
        report.blockers.extend(_blockers(exporter.blocked, ops))
        return report, None
    whole = _whole_model(exporter, function, key)
    _check(report, whole, function, values, flat)
    model = whole.proto
    report.changes.append(
        f"signature {key!r}: {len(exporter.nodes)} nodes -> {len(model.graph.node)} ONNX nodes (opset "
        f"{model.opset_import[0].version}), {len(model.graph.initializer)} initializers; inputs "
        f"{', '.join(s.name for s in function.inputs) or 'none'}; outputs "
        f"{', '.join(s.name for s in function.outputs)}"
    )
    if not dry_run and report.ok and output is not None:
        atomic_write_bytes(output, model.SerializeToString(), overwrite=overwrite)
        report.written = True
    return report, model


def _whole_model(exporter: Exporter, function: Any, key: str) -> OnnxModel:
    builder = exporter.builder()
    for spec, ref in zip(function.inputs, exporter.flat.feeds, strict=True):
        builder.names[ref] = spec.name
        builder.inputs[ref] = spec.name
    for name in order_for_runs(exporter.graph, exporter.nodes, exporter.fed, exporter.nodes):
        convert_node(builder, exporter.graph.nodes[name])
    outputs = []
    for spec, ref in zip(function.outputs, exporter.flat.fetches, strict=True):
        source = builder.value(ref)
        builder.nodes.append(make_node("Identity", [source], [spec.name], f"output {spec.name}"))
        outputs.append((spec.name, np.asarray(exporter.values[ref]).dtype))
    shapes = {spec.name: spec.shape for spec in function.inputs}
    model = builder.model(outputs, shapes, embed=True)
    model.proto.graph.name = key
    return model


def _check(report: Report, model: OnnxModel, function: Any, values: Mapping, flat: Any) -> None:
    """Run `model` on the trace's inputs; block the export when onnxruntime refuses it or its
    outputs differ from the NumPy kernels'."""
    feeds = {spec.name: values[ref] for spec, ref in zip(function.inputs, flat.feeds, strict=True)}
    try:
        session = session_for(model, None)
        results = session.run([s.name for s in function.outputs], feeds)
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own error, reported
        report.block(f"onnxruntime cannot run the exported model: {exc}")
        return
    for spec, ref, result in zip(function.outputs, flat.fetches, results, strict=True):
        if not close_enough(result, values[ref]):
            report.block(f"output {spec.name!r} differs from the NumPy kernels' result")
    report.changes.append(
        "onnxruntime ran the model: outputs equal the NumPy kernels' within float tolerance"
    )
