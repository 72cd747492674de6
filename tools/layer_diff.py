"""Per-node comparison of savedmodel against TensorFlow: where does a model's float error come from?

    python3 tools/layer_diff.py .cache/corpus/efficientnet_b0          # a corpus case (its inputs.npz)
    python3 tools/layer_diff.py MODEL_DIR --inputs x.npz --signature serving_default
    python3 tools/layer_diff.py CASE --spread        # also TensorFlow's own oneDNN-on vs -off spread
    python3 tools/layer_diff.py CASE --golden-ops    # the kernels TensorFlow's golden run executes

How: the signature's function is inlined into one flat, frozen GraphDef (every PartitionedCall /
StatefulPartitionedCall body spliced in, its nodes named `<call node>/<body node>`; variables read
by ReadVariableOp become Consts holding the restored values). TensorFlow (the oracle venv, in a
subprocess, oneDNN off as for the goldens) runs that graph in a TF1 session fetching every numeric
tensor; savedmodel runs the same GraphDef fetching the same tensors. Per tensor it reports

- err:    max |savedmodel - TF| / max |TF| (the error scaled to the tensor's magnitude, as the corpus
          tolerances are), accumulated through every node before it;
- in:     the largest err among the node's data inputs (what it inherited);
- local:  the same measure for savedmodel's kernel alone, fed TensorFlow's own input values: the
          error this one node adds, in float32 ulps of the tensor's scale (2^-23 ~ 1.2e-7);
- spread: with --spread, max |TF oneDNN on - TF oneDNN off| / max |TF|, TensorFlow's own yardstick.

It prints the nodes where err first jumps (err > --jump x in), the largest local errors, and a
per-op-type summary. Grappler is off in the TF session (each node runs its own kernel, nothing is
fused or folded away); `--golden-ops` lists what the golden run (Grappler on) executes instead,
e.g. `_FusedConv2D`, so a fused kernel's different rounding can be told apart.

Inlining covers call ops and the ops that read variables (ReadVariableOp, ResourceGather);
control-flow bodies (If, While, Case) stay functions (their inner tensors are not compared) and
must not capture variables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ORACLE_PYTHON = ROOT / "tools" / "oracle" / ".venv" / "bin" / "python"
CALL_OPS = ("PartitionedCall", "StatefulPartitionedCall")
PASS_RESOURCE_OPS = ("Identity", "IdentityN", "Snapshot")
F32_ULP = 2.0**-23


# ------------------------------------------------------------------------------------ inlining


class _Resource:
    """A variable's restored value standing in for its handle while inlining."""

    def __init__(self, name: str, value: np.ndarray) -> None:
        self.name = name
        self.value = value


@dataclass
class FlatGraph:
    graph_def: Any  # savedmodel.proto.graph_pb2.GraphDef
    feeds: dict[str, str]  # signature input key -> flat tensor name
    outputs: dict[str, str]  # signature output key -> flat tensor name
    inputs_of: dict[str, list[str]] = field(default_factory=dict)  # node -> its data input tensors
    op_of: dict[str, str] = field(default_factory=dict)


def _topological(nodes: Mapping[str, Any], roots: Sequence[str]) -> list[str]:
    """The nodes `roots` depend on through data inputs, producers first (iterative DFS)."""
    order: list[str] = []
    state: dict[str, int] = {}
    for root in roots:
        if root in state:
            continue
        stack = [(root, 0)]
        state[root] = 1
        while stack:
            name, i = stack.pop()
            inputs = nodes[name].inputs if name in nodes else []
            if i < len(inputs):
                stack.append((name, i + 1))
                producer = inputs[i][0]
                if producer not in state:
                    state[producer] = 1
                    stack.append((producer, 0))
            else:
                state[name] = 2
                order.append(name)
    return order


def _tensor_text(name: str, index: int) -> str:
    return name if index == 0 else f"{name}:{index}"


class _Inliner:
    def __init__(self, library: Any, variable_value: Any) -> None:
        from savedmodel.proto import graph_pb2

        self.library = library
        self.variable_value = variable_value  # top-level VarHandleOp name -> np.ndarray
        self.out = graph_pb2.GraphDef()
        self.inputs_of: dict[str, list[str]] = {}
        self.op_of: dict[str, str] = {}

    def _emit(self, name: str, node: Any, inputs: list[str]) -> None:
        if name in self.op_of:
            raise ValueError(f"layer_diff: two inlined nodes named {name!r}")
        nd = self.out.node.add(name=name, op=node.op, input=inputs)
        for key, value in node.attr.items():
            if not key.startswith("_"):  # colocation and other hints name nodes that are gone
                nd.attr[key].CopyFrom(value)
        self.inputs_of[name] = inputs
        self.op_of[name] = node.op

    def _const(self, name: str, value: np.ndarray) -> None:
        from savedmodel.format import tensor as tensor_format
        from savedmodel.proto import attr_value_pb2

        proto = tensor_format.from_numpy(value)
        nd = self.out.node.add(name=name, op="Const")
        nd.attr["dtype"].CopyFrom(attr_value_pb2.AttrValue(type=proto.dtype))
        nd.attr["value"].CopyFrom(attr_value_pb2.AttrValue(tensor=proto))
        self.inputs_of[name] = []
        self.op_of[name] = "Const"

    def _gather(self, name: str, node: Any, params: np.ndarray, indices: str) -> None:
        """ResourceGather of a frozen variable: GatherV2 of its value (axis = batch_dims)."""
        from savedmodel.proto import attr_value_pb2

        batch_dims = int(node.attr["batch_dims"].i) if "batch_dims" in node.attr else 0
        self._const(f"{name}/params", params)
        self._const(f"{name}/axis", np.array(batch_dims, np.int32))
        nd = self.out.node.add(name=name, op="GatherV2", input=[f"{name}/params", indices, f"{name}/axis"])
        nd.attr["Tparams"].CopyFrom(attr_value_pb2.AttrValue(type=node.attr["dtype"].type))
        nd.attr["Tindices"].CopyFrom(node.attr["Tindices"])
        nd.attr["Taxis"].CopyFrom(attr_value_pb2.AttrValue(type=3))  # DT_INT32
        nd.attr["batch_dims"].CopyFrom(attr_value_pb2.AttrValue(i=batch_dims))
        self.inputs_of[name] = [f"{name}/params", indices, f"{name}/axis"]
        self.op_of[name] = "GatherV2"

    def splice(
        self, graph: Any, roots: Sequence[tuple[str, int]], prefix: str, args: Sequence[Any]
    ) -> list[Any]:
        """Emit what `roots` of `graph` need, names prefixed; returns each root's flat tensor name
        (or a _Resource). `args`: what the graph's `_Arg` nodes stand for."""
        from savedmodel.graph.model import ARG_OP, instantiate

        resolved: dict[tuple[str, int], Any] = {}
        for name in _topological(graph.nodes, [r[0] for r in roots]):
            node = graph.nodes[name]
            ins = [resolved[ref] for ref in node.inputs]
            flat = prefix + name
            where = f"{node.op} node {flat!r}"
            if node.op == ARG_OP:
                resolved[(name, 0)] = args[node.attr["index"].i]
            elif node.op == "VarHandleOp":
                if prefix:
                    raise ValueError(f"layer_diff: {where} creates a variable inside a function")
                resolved[(name, 0)] = _Resource(name, self.variable_value(name))
            elif node.op == "ReadVariableOp" and isinstance(ins[0], _Resource):
                self._const(flat, ins[0].value)
                resolved[(name, 0)] = flat
            elif node.op == "ResourceGather" and isinstance(ins[0], _Resource):
                self._gather(flat, node, ins[0].value, ins[1])
                resolved[(name, 0)] = flat
            elif node.op in PASS_RESOURCE_OPS and any(isinstance(v, _Resource) for v in ins):
                for i, value in enumerate(ins):
                    resolved[(name, i)] = value
            elif node.op in CALL_OPS or node.op in self.library:
                fname, attrs = (
                    (node.attr["f"].func.name, node.attr["f"].func.attr)
                    if node.op in CALL_OPS
                    else (node.op, node.attr)
                )
                body = instantiate(self.library, fname, attrs)
                results = self.splice(body.graph, body.rets, flat + "/", ins)
                for i, value in enumerate(results):
                    resolved[(name, i)] = value
            else:
                bad = [v.name for v in ins if isinstance(v, _Resource)]
                if bad:
                    raise ValueError(f"layer_diff: {where} takes variable {bad[0]!r}; only reads are inlined")
                self._emit(flat, node, ins)
                for i in range(graph.layout(name).count):
                    resolved[(name, i)] = _tensor_text(flat, i)
        return [resolved[ref] for ref in roots]


def flatten(model_dir: Path, signature: str, tags: Sequence[str] | None = None) -> FlatGraph:
    """The signature's computation as one frozen GraphDef (see the module docstring)."""
    import savedmodel
    from savedmodel.graph.model import GraphModel
    from savedmodel.graph.names import parse_tensor_name

    loaded = savedmodel.load(model_dir, list(tags) if tags else None)
    session = loaded.session
    meta_graph = loaded.meta_graph
    sig = meta_graph.signature_def[signature]
    graph: GraphModel = session.graph

    def variable_value(name: str) -> np.ndarray:
        return np.asarray(session.run(f"{name}:0").read())

    inliner = _Inliner(graph.library, variable_value)
    keys = sorted(sig.outputs)
    roots = [parse_tensor_name(sig.outputs[k].name) for k in keys]
    results = inliner.splice(graph, roots, "", [])
    outputs = {}
    for key, value in zip(keys, results, strict=True):
        if isinstance(value, _Resource):
            raise ValueError(f"layer_diff: output {key!r} is a variable handle")
        outputs[key] = value if ":" in value else value + ":0"
    inliner.out.library.CopyFrom(meta_graph.graph_def.library)
    inliner.out.versions.CopyFrom(meta_graph.graph_def.versions)
    feeds = {k: sig.inputs[k].name for k in sig.inputs}
    return FlatGraph(inliner.out, feeds, outputs, inliner.inputs_of, inliner.op_of)


# ------------------------------------------------------------------------------ TensorFlow side


def tf_worker(work: Path) -> int:
    """Runs in the oracle venv: every numeric tensor of graph.pb, fed feeds.npz."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from tools.corpus import npzio

    config = json.loads((work / "config.json").read_text())
    feeds_by_name = npzio.load(work / "feeds.npz")
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((work / "graph.pb").read_bytes())
    session_config = tf.compat.v1.ConfigProto()
    session_config.graph_options.rewrite_options.disable_meta_optimizer = True
    numeric = {tf.float16, tf.bfloat16, tf.float32, tf.float64, tf.int8, tf.int16, tf.int32, tf.int64}
    numeric |= {tf.uint8, tf.uint16, tf.uint32, tf.uint64, tf.bool}
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, name="")
        skip = {"Const", "Placeholder", "NoOp"}
        names = [
            t.name
            for op in graph.get_operations()
            if op.type not in skip
            for t in op.outputs
            if t.dtype in numeric
        ]
        with tf.compat.v1.Session(graph=graph, config=session_config) as sess:
            values = sess.run(names, feeds_by_name)
    npzio.save(work / f"tf_{config['tag']}.npz", {f"t{i}": v for i, v in enumerate(values)})
    info: dict[str, Any] = {"names": names}
    if config.get("golden_ops"):
        info["golden_ops"] = _golden_ops(tf, config)
    (work / f"tf_{config['tag']}.json").write_text(json.dumps(info))
    return 0


def _golden_ops(tf: Any, config: Mapping[str, Any]) -> dict[str, int]:
    """Op types the corpus goldens' path executes: the SavedModel in a TF1 session, Grappler on."""
    from tools.corpus import npzio

    feeds = npzio.load(Path(config["work"]) / "signature_feeds.npz")
    counts: dict[str, int] = defaultdict(int)
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        meta_graph = tf.compat.v1.saved_model.loader.load(sess, config["tags"], config["model"])
        sig = meta_graph.signature_def[config["signature"]]
        options = tf.compat.v1.RunOptions(output_partition_graphs=True)
        metadata = tf.compat.v1.RunMetadata()
        fetches = [sig.outputs[k].name for k in sorted(sig.outputs)]
        sess.run(
            fetches, {sig.inputs[k].name: v for k, v in feeds.items()}, options=options, run_metadata=metadata
        )
        for partition in metadata.partition_graphs:
            for node in partition.node:
                counts[node.op] += 1
            for function in partition.library.function:
                for node in function.node_def:
                    counts[node.op] += 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def run_tensorflow(
    work: Path,
    flat: FlatGraph,
    feeds: Mapping[str, np.ndarray],
    tag: str,
    onednn: bool,
    extra: Mapping[str, Any],
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from tools.corpus import npzio

    (work / "graph.pb").write_bytes(flat.graph_def.SerializeToString())
    npzio.save(work / "feeds.npz", {flat.feeds[k]: v for k, v in feeds.items()})
    (work / "config.json").write_text(json.dumps({"tag": tag, "work": str(work), **extra}))
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1" if onednn else "0", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [str(ORACLE_PYTHON), str(Path(__file__).resolve()), "--tf-worker", str(work)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"layer_diff: the TensorFlow worker failed (exit {done.returncode})")
    info = json.loads((work / f"tf_{tag}.json").read_text())
    arrays = npzio.load(work / f"tf_{tag}.npz")
    return {name: arrays[f"t{i}"] for i, name in enumerate(info["names"])}, info


# ------------------------------------------------------------------------------------ comparing


def scaled_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |actual - expected| / max |expected| (0 when both are all zeros; NaNs in the same places agree)."""
    if actual.shape != expected.shape:
        return float("inf")
    if expected.dtype.kind not in "fc" and actual.dtype.kind not in "fc":
        return 0.0 if np.array_equal(actual, expected) else float("inf")
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.size == 0:
        return 0.0
    both_nan = np.isnan(a) & np.isnan(e)
    diff = np.where(both_nan, 0.0, np.abs(a - e))
    worst = float(np.max(np.where(np.isnan(diff), np.inf, diff)))
    scale = float(np.max(np.where(np.isnan(e), 0.0, np.abs(e))))
    if worst == 0.0:
        return 0.0
    return worst / scale if scale > 0 else float("inf")


@dataclass
class Row:
    index: int
    tensor: str
    op: str
    shape: tuple[int, ...]
    dtype: str
    err: float
    inherited: float
    local: float | None = None
    spread: float | None = None
    tf_exact: float | None = None  # TF's kernel vs float64 on the same inputs
    our_exact: float | None = None  # savedmodel's kernel vs float64 on the same inputs


def _local_values(
    session: Any,
    flat: FlatGraph,
    tf_values: Mapping[str, np.ndarray],
    feeds: Mapping[str, np.ndarray],
    upcast: bool = False,
) -> dict[str, np.ndarray]:
    """Each node's outputs from savedmodel's kernel fed TensorFlow's values for its inputs; with
    `upcast`, float32 inputs are fed as float64 (most kernels then compute in float64: a reference
    for both float32 results, kept only where the output did come back float64)."""
    by_node: dict[str, list[str]] = defaultdict(list)
    for name in tf_values:
        by_node[name.rsplit(":", 1)[0]].append(name)
    placeholders = {v: feeds[k] for k, v in flat.feeds.items()}
    out: dict[str, np.ndarray] = {}
    for node, tensors in by_node.items():
        if upcast and not any(tf_values[t].dtype == np.float32 for t in tensors):
            continue
        feed: dict[str, Any] = {}
        for text in flat.inputs_of.get(node, []):
            tensor = text if ":" in text else text + ":0"
            if tensor in tf_values:
                value = tf_values[tensor]
                feed[tensor] = value.astype(np.float64) if upcast and value.dtype == np.float32 else value
            elif tensor in placeholders:
                feed[tensor] = placeholders[tensor]
        if upcast and not feed:
            continue
        try:
            values = session.run(tensors, feed)
        except Exception as exc:  # a tool: report and go on
            if not upcast:
                print(f"  (local run of {node} failed: {type(exc).__name__}: {exc})", file=sys.stderr)
            continue
        for tensor, value in zip(tensors, values, strict=True):
            value = np.asarray(value)
            if not upcast or value.dtype == np.float64:
                out[tensor] = value
    return out


def compare(
    flat: FlatGraph,
    ours: Mapping[str, np.ndarray],
    theirs: Mapping[str, np.ndarray],
    local: Mapping[str, np.ndarray] | None = None,
    spread: Mapping[str, np.ndarray] | None = None,
    exact: Mapping[str, np.ndarray] | None = None,
) -> list[Row]:
    errors: dict[str, float] = {}
    rows = []
    used = {t if ":" in t else t + ":0" for inputs in flat.inputs_of.values() for t in inputs}
    used.update(flat.outputs.values())
    for index, (name, expected) in enumerate(theirs.items()):
        if name not in used:  # e.g. FusedBatchNormV3's reserve spaces: unspecified in inference
            continue
        node = name.rsplit(":", 1)[0]
        err = scaled_error(ours[name], expected)
        errors[name] = err
        inherited = 0.0
        for text in flat.inputs_of.get(node, []):
            inherited = max(inherited, errors.get(text if ":" in text else text + ":0", 0.0))
        row = Row(
            index, name, flat.op_of.get(node, "?"), tuple(expected.shape), str(expected.dtype), err, inherited
        )
        if local is not None and name in local:
            row.local = scaled_error(local[name], expected)
        if spread is not None and name in spread:
            row.spread = scaled_error(spread[name], expected)
        if exact is not None and name in exact:
            row.tf_exact = scaled_error(expected, exact[name])
            if local is not None and name in local:
                row.our_exact = scaled_error(local[name], exact[name])
        rows.append(row)
    return rows


def _corrected(flat: FlatGraph, corrections: Mapping[str, np.ndarray]) -> Any:
    """The flat GraphDef with `tensor + correction` (an AddV2 of a Const) read wherever `tensor` was."""
    from savedmodel.format import tensor as tensor_format
    from savedmodel.proto import attr_value_pb2, graph_pb2

    graph_def = graph_pb2.GraphDef()
    graph_def.CopyFrom(flat.graph_def)
    renamed: dict[str, str] = {}
    extra = []
    for i, (tensor, correction) in enumerate(corrections.items()):
        proto = tensor_format.from_numpy(correction)
        const = graph_pb2.GraphDef().node.add(name=f"layer_diff/correction_{i}", op="Const")
        const.attr["dtype"].CopyFrom(attr_value_pb2.AttrValue(type=proto.dtype))
        const.attr["value"].CopyFrom(attr_value_pb2.AttrValue(tensor=proto))
        add = graph_pb2.GraphDef().node.add(name=f"layer_diff/corrected_{i}", op="AddV2")
        add.input.extend([tensor, const.name])
        add.attr["T"].CopyFrom(attr_value_pb2.AttrValue(type=proto.dtype))
        extra += [const, add]
        renamed[tensor] = add.name
        if tensor.endswith(":0"):
            renamed[tensor[:-2]] = add.name
    for node in graph_def.node:
        for j, text in enumerate(node.input):
            if text in renamed:
                node.input[j] = renamed[text]
    graph_def.node.extend(extra)
    return graph_def


def attribute(
    flat: FlatGraph,
    op_list: Any,
    tf_values: Mapping[str, np.ndarray],
    local: Mapping[str, np.ndarray],
    feeds: Mapping[str, np.ndarray],
) -> list[tuple[str, int, dict[str, float], dict[str, float]]]:
    """Per op type: the signature outputs' err with only that type's local errors left (every other
    node's output corrected by TF's value minus its local value), and with only that type's
    corrected. The type that alone reproduces the error is the one that loses it."""
    from savedmodel.runtime.session import GraphSession

    fed_inputs = {flat.feeds[k]: v for k, v in feeds.items()}
    keys = list(flat.outputs)
    corrections: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    for name, value in tf_values.items():
        ours = local.get(name)
        if ours is None or value.dtype.kind != "f" or ours.shape != value.shape or ours.dtype != value.dtype:
            continue
        with np.errstate(all="ignore"):
            delta = value - ours
        if np.any(delta != 0) and np.all(np.isfinite(delta)):
            corrections[flat.op_of.get(name.rsplit(":", 1)[0], "?")][name] = delta

    def errors(fixed: Mapping[str, np.ndarray]) -> dict[str, float]:
        session = GraphSession(_corrected(flat, fixed), op_list=op_list, where="layer_diff")
        values = session.run([flat.outputs[k] for k in keys], fed_inputs)
        return {
            k: scaled_error(np.asarray(v), tf_values[flat.outputs[k]])
            for k, v in zip(keys, values, strict=True)
        }

    results = []
    for op in sorted(corrections):
        others = {t: d for other, table in corrections.items() if other != op for t, d in table.items()}
        results.append((op, len(corrections[op]), errors(others), errors(corrections[op])))
    return results


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2e}" if value else "0"


def _ulps(value: float | None) -> str:
    return "-" if value is None else f"{value / F32_ULP:.1f}"


def _stats(values: list[float]) -> str:
    if not values:
        return f"{'-':>17}"
    return f"{np.median(values) / F32_ULP:8.2f} {max(values) / F32_ULP:8.2f}"


def report(rows: list[Row], flat: FlatGraph, top: int, jump: float, floor: float) -> str:
    lines = []
    by_tensor = {r.tensor: r for r in rows}
    has_spread = any(r.spread is not None for r in rows)
    has_exact = any(r.tf_exact is not None for r in rows)
    header = f"{'#':>5} {'op':22} {'err':>9} {'in':>9} {'local':>7}"
    header += f" {'spread':>9}" if has_spread else ""
    header += f" {'tf/f64':>7} {'sm/f64':>7}" if has_exact else ""
    header += "  shape  tensor"

    def line(r: Row) -> str:
        text = f"{r.index:5d} {r.op[:22]:22} {_fmt(r.err):>9} {_fmt(r.inherited):>9} {_ulps(r.local):>7}"
        text += f" {_fmt(r.spread):>9}" if has_spread else ""
        text += f" {_ulps(r.tf_exact):>7} {_ulps(r.our_exact):>7}" if has_exact else ""
        return text + f"  {list(r.shape)}  {r.tensor}"

    lines.append("signature outputs:")
    for key, tensor in flat.outputs.items():
        r = by_tensor.get(tensor)
        if r is not None:
            extra = f", TF's own oneDNN on/off spread {_fmt(r.spread)}" if r.spread is not None else ""
            lines.append(f"  {key}: err {_fmt(r.err)} ({tensor}){extra}")
    lines.append(
        "(err, in, spread: scaled errors; local, tf/f64, sm/f64: in float32 ulps of the tensor's max)"
    )
    floats = [r for r in rows if r.dtype.startswith(("float", "bfloat", "complex"))]
    jumps = [r for r in floats if r.err > floor and r.err > jump * r.inherited]
    lines.append(
        f"\nfirst nodes whose err jumps (err > {jump:g} x in, err > {floor:g}): {len(jumps)} of {len(floats)}"
    )
    lines.append(header)
    lines.extend(line(r) for r in jumps[:top])
    with_local = [r for r in floats if r.local is not None]
    if with_local:
        lines.append(
            f"\nlargest local errors (savedmodel's kernel on TF's inputs, vs TF), of {len(with_local)}:"
        )
        lines.append(header)
        lines.extend(line(r) for r in sorted(with_local, key=lambda r: -(r.local or 0))[:top])
    with_exact = [r for r in floats if r.our_exact is not None and r.tf_exact is not None]
    if with_exact:
        worse = sorted(with_exact, key=lambda r: -((r.our_exact or 0) - (r.tf_exact or 0)))
        lines.append("\nwhere savedmodel's kernel is furthest from float64 compared with TF's kernel:")
        lines.append(header)
        lines.extend(line(r) for r in worse[:top] if (r.our_exact or 0) > (r.tf_exact or 0))
    columns = "count, max err/in, local median/max"
    columns += ", TF vs f64 median/max, ours vs f64 median/max" if has_exact else ""
    columns += ", max err/spread" if has_spread else ""
    lines.append(f"\nper op type ({columns}; ulps):")
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in floats:
        groups[r.op].append(r)
    summary = []
    for op, members in groups.items():
        ratio = max((r.err / r.inherited if r.inherited else (np.inf if r.err else 0.0)) for r in members)
        locals_ = [r.local for r in members if r.local is not None]
        text = f"  {op[:24]:24} {len(members):5d} {ratio:9.3g}  {_stats(locals_)}"
        if has_exact:
            text += f"  {_stats([r.tf_exact for r in members if r.tf_exact is not None])}"
            text += f"  {_stats([r.our_exact for r in members if r.our_exact is not None])}"
        if has_spread:
            spread_ratio = max(
                ((r.err / r.spread) if r.spread else (np.inf if r.err else 0.0)) for r in members
            )
            text += f"  {spread_ratio:8.3g}"
        summary.append((max(locals_, default=0.0), text))
    lines.extend(text for _, text in sorted(summary, key=lambda s: -s[0]))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- main


def _load_inputs(args: argparse.Namespace, model_dir: Path, signature: str) -> dict[str, np.ndarray]:
    from tools.corpus import npzio

    path = args.inputs or (model_dir.parent / "inputs.npz")
    values = npzio.load(Path(path))
    prefix = signature + "/"
    if any(k.startswith(prefix) for k in values):
        return {k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)}
    return values


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument(
        "model", type=Path, nargs="?", help="a SavedModel directory or a corpus case directory"
    )
    parser.add_argument(
        "--inputs", type=Path, help=".npz of signature inputs (keys `input` or `signature/input`)"
    )
    parser.add_argument("--signature", default="serving_default")
    parser.add_argument("--tags", help="comma-separated MetaGraph tags")
    parser.add_argument("--top", type=int, default=15, help="rows per table")
    parser.add_argument("--jump", type=float, default=4.0, help="err / in ratio that counts as a jump")
    parser.add_argument("--floor", type=float, default=1e-6, help="ignore errors below this")
    parser.add_argument("--no-local", action="store_true", help="skip the per-kernel (local) runs")
    parser.add_argument("--spread", action="store_true", help="also run TensorFlow with oneDNN on")
    parser.add_argument("--exact", action="store_true", help="also compare both kernels with float64 runs")
    parser.add_argument(
        "--attribute", action="store_true", help="outputs' err with each op type's nodes given TF's values"
    )
    parser.add_argument("--golden-ops", action="store_true", help="list the ops TF's golden run executes")
    parser.add_argument(
        "--save", type=Path, help="write TF's and savedmodel's values to this .npz (tf/..., sm/...)"
    )
    parser.add_argument("--tf-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tf_worker:
        return tf_worker(args.tf_worker)
    if args.model is None:
        parser.error("a model directory is required")
    model_dir = args.model / "saved_model" if (args.model / "saved_model").is_dir() else args.model
    tags = args.tags.split(",") if args.tags else None
    feeds = _load_inputs(args, model_dir, args.signature)
    flat = flatten(model_dir, args.signature, tags)
    print(f"inlined {len(flat.graph_def.node)} nodes; outputs {flat.outputs}", flush=True)

    import savedmodel
    from savedmodel.runtime.session import GraphSession

    meta_graph = savedmodel.load(model_dir, tags).meta_graph
    op_list = meta_graph.meta_info_def.stripped_op_list
    session = GraphSession(flat.graph_def, op_list=op_list, where="layer_diff")
    with tempfile.TemporaryDirectory(prefix="layer_diff") as tmp:
        work = Path(tmp)
        extra: dict[str, Any] = {}
        if args.golden_ops:
            from tools.corpus import npzio

            npzio.save(work / "signature_feeds.npz", feeds)
            extra = {
                "golden_ops": True,
                "model": str(model_dir),
                "signature": args.signature,
                "tags": tags or [t for t in meta_graph.meta_info_def.tags],
            }
        theirs, info = run_tensorflow(work, flat, feeds, "reference", onednn=False, extra=extra)
        spread = (
            run_tensorflow(work, flat, feeds, "onednn", onednn=True, extra={})[0] if args.spread else None
        )
    names = list(theirs)
    fed = {flat.feeds[k]: v for k, v in feeds.items()}
    ours = dict(zip(names, (np.asarray(v) for v in session.run(names, fed)), strict=True))
    local = None if args.no_local else _local_values(session, flat, theirs, feeds)
    if args.save:
        from tools.corpus import npzio

        saved = {f"tf/{k}": v for k, v in theirs.items()} | {f"sm/{k}": v for k, v in ours.items()}
        if spread is not None:
            saved |= {f"tf_onednn/{k}": v for k, v in spread.items()}
        npzio.save(args.save, saved)
    exact = _local_values(session, flat, theirs, feeds, upcast=True) if args.exact else None
    rows = compare(flat, ours, theirs, local, spread, exact)
    print(report(rows, flat, args.top, args.jump, args.floor))
    if args.attribute and local is not None:
        print(
            "\nsignature outputs' err with only one op type's local errors left / with that type's corrected:"
        )
        for op, count, alone, without in sorted(
            attribute(flat, meta_graph.meta_info_def.stripped_op_list, theirs, local, feeds),
            key=lambda a: -max(a[2].values(), default=0),
        ):
            text = ", ".join(f"{k} {_fmt(alone[k])} / {_fmt(without[k])}" for k in alone)
            print(f"  {op[:24]:24} {count:5d} nodes differ  {text}")
    if info.get("golden_ops"):
        print("\nops TensorFlow's golden run executes (Grappler on):")
        print("  " + ", ".join(f"{op} {n}" for op, n in info["golden_ops"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
