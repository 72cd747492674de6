"""TensorFlow's outputs for the real-world models under tests/fixtures/realworld/ (oracle venv only).

    tools/oracle/.venv/bin/python tools/oracle/make_realworld_goldens.py [--only NAME,...]

For every model folder this writes `case.json` (what was run and how TensorFlow answered),
`inputs.npz` and `outputs.npz` (keys `<run id>/<input or output name>`) next to the model.
What runs:
- SavedModels: every signature of every MetaGraph, through `tf.compat.v1.saved_model.load` in one
  session per MetaGraph, in sorted order (state carries over between signatures, as it does in a
  served model); savedmodel replays the same order on one loaded model.
- frozen GraphDefs (`*.pb` / `*.pbtxt` without a SavedModel): the placeholders are fed and the
  graph's sinks (nodes nothing consumes) fetched, by tensor name.
- MetaGraph + checkpoint and TF Serving session bundles: the MetaGraph is imported, its saver
  restores the checkpoint, then placeholders are fed and sinks fetched as for a GraphDef.
Each case is made twice: outputs that differ between the two TensorFlow runs (unseeded random
initialisers) are listed as `nondeterministic`, and only their dtype and shape are compared.
Inputs are synthesised from the graph tensor each input feeds (its dtype and shape, unknown
dimensions as 2); a string input that feeds a ParseExample op gets serialized tf.Example protos
built from the op's dense keys, types and shapes. A run that TensorFlow itself fails is recorded
with its error and no outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tools.corpus import npzio  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "realworld"
tf1 = tf.compat.v1
PARSE_OPS = {"ParseExample", "ParseExampleV2", "ParseSingleExample"}
PLACEHOLDERS = {"Placeholder", "PlaceholderV2"}
NOT_FETCHED = {
    "Const",
    "NoOp",
    "Assert",
    "SaveV2",
    "Save",
    "SaveSlices",
    "MergeV2Checkpoints",
    "RestoreV2",
    "Restore",
    "RestoreSlice",
    "ShardedFilename",
    "StringJoin",
    "VarIsInitializedOp",
}
MAX_FETCHES = 8
# As TF Serving runs models: a node pinned to a GPU this machine lacks runs on the CPU.
SESSION_CONFIG = tf1.ConfigProto(allow_soft_placement=True)


def _dims(shape: tf.TensorShape, fallback: list[int]) -> list[int]:
    if shape.rank is None:
        return fallback
    return [2 if d is None else d for d in shape.as_list()]


def _feature(dtype: tf.DType, count: int, rng: np.random.Generator) -> tf1.train.Feature:
    if dtype == tf.float32:
        return tf1.train.Feature(float_list=tf1.train.FloatList(value=rng.standard_normal(count).tolist()))
    if dtype == tf.int64:
        return tf1.train.Feature(int64_list=tf1.train.Int64List(value=rng.integers(0, 5, count).tolist()))
    words = [b"alpha", b"beta", b"gamma", b"delta"]
    return tf1.train.Feature(bytes_list=tf1.train.BytesList(value=[words[i % 4] for i in range(count)]))


def _parse_consumer(tensor: tf.Tensor) -> tf.Operation | None:
    frontier, seen = [tensor], set()
    while frontier:
        t = frontier.pop()
        for op in t.consumers():
            if op.type in PARSE_OPS:
                return op
            if op.type in ("Identity", "Reshape", "ExpandDims") and op.name not in seen:
                seen.add(op.name)
                frontier.extend(op.outputs)
    return None


class _LibraryParse:
    """A ParseExampleV2 node inside a function of the graph's library (TF2 signatures)."""

    type = "library"

    def __init__(self, node, keys: dict[str, list[bytes]]) -> None:
        self.node, self.keys = node, keys

    def get_attr(self, name: str):
        attr = self.node.attr[name]
        if name == "dense_shapes":
            return [tf.TensorShape(s) for s in attr.list.shape]
        return [tf.as_dtype(t) for t in attr.list.type]


def _const_in(nodes: dict, ref: str) -> list[bytes]:
    value = nodes[ref.split(":")[0]].attr["value"].tensor
    return list(tf.make_ndarray(value).ravel())


def _parse_in_library(graph: tf.Graph) -> _LibraryParse | None:
    for function in graph.as_graph_def().library.function:
        nodes = {n.name: n for n in function.node_def}
        for node in function.node_def:
            if node.op != "ParseExampleV2":
                continue

            keys = {kind: _const_in(nodes, node.input[i]) for kind, i in (("sparse", 2), ("dense", 3))}
            return _LibraryParse(node, keys)
    return None


def _examples(sess: tf1.Session, op: tf.Operation, batch: int, rng: np.random.Generator) -> np.ndarray:
    """Serialized tf.Examples with every dense (and sparse) feature the ParseExample op reads."""
    if isinstance(op, _LibraryParse):
        sparse_keys, dense_keys = op.keys["sparse"], op.keys["dense"]
    elif op.type == "ParseExampleV2":
        dense_keys = sess.run(op.inputs[3]).tolist() if op.get_attr("num_sparse") >= 0 else []
        sparse_keys = sess.run(op.inputs[2]).tolist()
    elif op.type == "ParseExample":
        ns, nd = op.get_attr("Nsparse"), op.get_attr("Ndense")
        sparse_keys = [sess.run(t) for t in op.inputs[2 : 2 + ns]]
        dense_keys = [sess.run(t) for t in op.inputs[2 + ns : 2 + ns + nd]]
    else:
        sparse_keys = [k.encode() for k in op.get_attr("sparse_keys")]
        dense_keys = [k.encode() for k in op.get_attr("dense_keys")]
    dense_types = op.get_attr("Tdense")
    dense_shapes = [tf.TensorShape(s) for s in op.get_attr("dense_shapes")]
    if isinstance(op, _LibraryParse):
        dense_types = [t.as_datatype_enum for t in dense_types]
    sparse_types = op.get_attr("sparse_types")
    out = []
    for _ in range(batch):
        features = {}
        for key, dtype, shape in zip(dense_keys, dense_types, dense_shapes, strict=True):
            count = int(np.prod(_dims(shape, [1]))) if shape.rank else 1
            features[key.decode()] = _feature(tf.as_dtype(dtype), count, rng)
        for key, dtype in zip(sparse_keys, sparse_types, strict=True):
            features[key.decode()] = _feature(tf.as_dtype(dtype), 2, rng)
        example = tf1.train.Example(features=tf1.train.Features(feature=features))
        out.append(example.SerializeToString())
    return np.array(out, dtype=object)


def _value(
    sess: tf1.Session, tensor: tf.Tensor, rng: np.random.Generator, spec: dict, rank0: bool
) -> np.ndarray:
    dtype = tensor.dtype.base_dtype
    if "value" in spec:
        return np.asarray(spec["value"], dtype=dtype.as_numpy_dtype)
    if "shape" in spec:
        return _random(dtype, list(spec["shape"]), rng)
    if tensor.shape.rank is None and dtype != tf.string:
        return _random(dtype, [] if rank0 else [3], rng)
    if dtype == tf.string:
        parse = _parse_consumer(tensor) or _parse_in_library(sess.graph)
        if parse is not None:
            shape = _dims(tensor.shape, [2])
            return _examples(sess, parse, int(np.prod(shape)), rng).reshape(shape)
        shape = _dims(tensor.shape, [2])
        words = np.array([b"alpha", b"beta", b"gamma", b"delta", b"epsilon"], dtype=object)
        return words[rng.integers(0, 5, int(np.prod(shape)))].reshape(shape)
    return _random(dtype, _dims(tensor.shape, [3]), rng)


def _random(dtype: tf.DType, shape: list[int], rng: np.random.Generator) -> np.ndarray:
    if dtype.is_bool:
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.is_integer:
        return rng.integers(0, 5, shape).astype(dtype.as_numpy_dtype)
    return rng.standard_normal(shape).astype(dtype.as_numpy_dtype)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:400]


class Recorder:
    def __init__(self, directory: Path, kind: str) -> None:
        self.directory = directory
        self.meta: dict = {"name": directory.name, "kind": kind, "tensorflow": tf.__version__, "runs": []}
        self.inputs: dict[str, np.ndarray] = {}
        self.outputs: dict[str, np.ndarray] = {}
        spec_file = directory / "input_spec.json"  # per-input {"shape": [...]} or {"value": ...}
        self.specs: dict = json.loads(spec_file.read_text()) if spec_file.exists() else {}

    def run(self, sess, run: dict, feeds: dict[str, tf.Tensor], fetches: dict[str, tf.Tensor], rng) -> None:
        run_id = f"{len(self.meta['runs']):02d}"
        run["id"] = run_id
        values: dict[str, np.ndarray] = {}
        result: dict[str, np.ndarray] = {}
        unknown_rank = any(t.shape.rank is None for t in feeds.values())
        for rank0 in (True, False) if unknown_rank else (True,):
            try:
                values = {n: _value(sess, t, rng, self._spec(n), rank0) for n, t in sorted(feeds.items())}
                result = sess.run(fetches, {feeds[n]: v for n, v in values.items()})
                run["status"] = "ok"
                run.pop("error", None)
                break
            except Exception as exc:  # TensorFlow itself cannot run it: record why
                run["status"] = "tf_error"
                run["error"] = f"{type(exc).__name__}: {_short(exc)}"
                values, result = {}, {}
        for name, value in values.items():
            self.inputs[f"{run_id}/{name}"] = np.asarray(value)
        for name, value in result.items():
            self.outputs[f"{run_id}/{name}"] = np.asarray(value)
        self.meta["runs"].append(run)

    def _spec(self, name: str) -> dict:
        return self.specs.get(name) or self.specs.get(name.split(":")[0], {})

    def error(self, run: dict, message: str) -> None:
        run.update(id=f"{len(self.meta['runs']):02d}", status="tf_error", error=message)
        self.meta["runs"].append(run)

    def write(self) -> None:
        (self.directory / "case.json").write_text(json.dumps(self.meta, indent=1) + "\n")
        npzio.save(self.directory / "inputs.npz", dict(sorted(self.inputs.items())))
        npzio.save(self.directory / "outputs.npz", dict(sorted(self.outputs.items())))


def _graph_facts(graph_def) -> dict:
    return {"producer": graph_def.versions.producer, "ops": sorted({n.op for n in graph_def.node})}


def saved_model_case(directory: Path) -> Recorder:
    from tensorflow.python.saved_model import loader_impl

    rec = Recorder(directory, "saved_model")
    saved = loader_impl.parse_saved_model(str(directory))
    rec.meta["meta_graphs"] = []
    for index, meta_graph in enumerate(saved.meta_graphs):
        tags = list(meta_graph.meta_info_def.tags)
        rec.meta["meta_graphs"].append(
            {
                "tags": tags,
                "tensorflow_version": meta_graph.meta_info_def.tensorflow_version,
                **_graph_facts(meta_graph.graph_def),
            }
        )
        rng = np.random.default_rng(index)
        with tf.Graph().as_default() as graph, tf1.Session(graph=graph, config=SESSION_CONFIG) as sess:
            try:
                tf1.saved_model.load(sess, tags, str(directory))
            except Exception as exc:
                rec.error({"tags": tags, "signature": None}, f"load: {type(exc).__name__}: {_short(exc)}")
                continue
            for key in sorted(meta_graph.signature_def):
                if key == "__saved_model_init_op":  # TF2's init op, stored as a signature: not callable
                    continue
                sig = meta_graph.signature_def[key]
                try:
                    feeds = {n: graph.get_tensor_by_name(i.name) for n, i in sig.inputs.items()}
                    fetches = {n: graph.get_tensor_by_name(i.name) for n, i in sig.outputs.items()}
                except Exception as exc:
                    rec.error({"tags": tags, "signature": key}, f"{type(exc).__name__}: {_short(exc)}")
                    continue
                rec.run(sess, {"tags": tags, "signature": key}, feeds, fetches, rng)
    return rec


def _downstream(graph: tf.Graph, starts: list[tf.Operation]) -> set[str]:
    consumers: dict[str, list[str]] = {}
    for op in graph.get_operations():
        for t in op.inputs:
            consumers.setdefault(t.op.name, []).append(op.name)
    seen, frontier = set(), [op.name for op in starts]
    while frontier:
        name = frontier.pop()
        if name not in seen:
            seen.add(name)
            frontier.extend(consumers.get(name, []))
    return seen


def _sinks(graph: tf.Graph) -> list[tf.Tensor]:
    """Tensors nothing consumes; where there are placeholders, only those that depend on them."""
    consumed = set()
    for op in graph.get_operations():
        consumed.update(t.op.name for t in op.inputs)
        consumed.update(c.name for c in op.control_inputs)
    placeholders = [op for op in graph.get_operations() if op.type in PLACEHOLDERS]
    fed = _downstream(graph, placeholders) if placeholders else None
    sinks = []
    for op in graph.get_operations():
        if fed is not None and op.name not in fed:
            continue
        if op.name in consumed or op.type in NOT_FETCHED or op.type in PLACEHOLDERS or not op.outputs:
            continue
        if op.name.startswith(("save/", "save_1/")) or op.outputs[0].dtype._is_ref_dtype:
            continue
        sinks.extend(op.outputs)
    return sinks[:MAX_FETCHES]


def _tensor_run(rec: Recorder, sess, graph: tf.Graph, rng) -> None:
    placeholders = [op.outputs[0] for op in graph.get_operations() if op.type in PLACEHOLDERS]
    feeds = {t.name: t for t in placeholders}
    fetches = {t.name: t for t in _sinks(graph)}
    run: dict = {"feeds": sorted(feeds), "fetches": sorted(fetches)}
    init = [op for op in graph.get_operations() if op.name == "init" and op.type == "NoOp"]
    if init and not rec.meta.get("checkpoint"):  # variables in a GraphDef: the program runs `init` first
        sess.run(init[0])
        run["init"] = "init"
    rec.run(sess, run, feeds, fetches, rng)


def graph_def_case(directory: Path, path: Path) -> Recorder:
    from google.protobuf import text_format

    rec = Recorder(directory, "graph_def")
    graph_def = tf1.GraphDef()
    if path.suffix == ".pbtxt":
        text_format.Parse(path.read_text(), graph_def)
    else:
        graph_def.ParseFromString(path.read_bytes())
    rec.meta["graph"] = path.name
    rec.meta.update(_graph_facts(graph_def))
    with tf.Graph().as_default() as graph, tf1.Session(graph=graph, config=SESSION_CONFIG) as sess:
        try:
            tf1.import_graph_def(graph_def, name="")
        except Exception as exc:
            rec.meta["runs"].append({"id": "00", "status": "tf_error", "error": f"import: {_short(exc)}"})
            return rec
        _tensor_run(rec, sess, graph, np.random.default_rng(0))
    return rec


def checkpoint_prefix(directory: Path, stem: str) -> str:
    if (directory / f"{stem}.index").exists() or (directory / f"{stem}.data-00000-of-00001").exists():
        return str(directory / stem)
    if (directory / f"{stem}.index").exists() or (directory / stem).exists():
        return str(directory / stem)
    shards = sorted(directory.glob(f"{stem}-?????-of-?????"))
    if shards:
        return str(directory / f"{stem}-?????-of-{shards[0].name[-5:]}")
    state = (directory / "checkpoint").read_text()
    return str(directory / state.split('"')[1])


def _parses(version: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        Version(version or "0")
    except InvalidVersion:
        return False
    return True


def meta_graph_case(directory: Path, meta_path: Path, kind: str) -> Recorder:
    rec = Recorder(directory, kind)
    meta_graph = tf1.MetaGraphDef()
    meta_graph.ParseFromString(meta_path.read_bytes())
    rec.meta["meta_graph"] = meta_path.name
    rec.meta["tensorflow_version"] = meta_graph.meta_info_def.tensorflow_version
    rec.meta.update(_graph_facts(meta_graph.graph_def))
    prefix = checkpoint_prefix(directory, meta_path.stem)
    rec.meta["checkpoint"] = os.path.relpath(prefix, directory)
    with tf.Graph().as_default() as graph, tf1.Session(graph=graph, config=SESSION_CONFIG) as sess:
        try:
            if not _parses(meta_graph.meta_info_def.tensorflow_version):
                # e.g. "0.12.head": TF 2.21 refuses it, so it reads a copy without the field
                meta_graph.meta_info_def.tensorflow_version = ""
                rec.meta["patched_for_tensorflow"] = "meta_info_def.tensorflow_version cleared"
            saver = tf1.train.import_meta_graph(meta_graph, clear_devices=True)
            saver.restore(sess, prefix)
        except Exception as exc:
            rec.meta["runs"].append({"id": "00", "status": "tf_error", "error": f"restore: {_short(exc)}"})
            return rec
        _tensor_run(rec, sess, graph, np.random.default_rng(0))
    return rec


def make_case(directory: Path) -> Recorder | None:
    if (directory / "saved_model.pb").exists() or (directory / "saved_model.pbtxt").exists():
        return saved_model_case(directory)
    metas = sorted(directory.glob("*.meta"))
    if metas:
        kind = "session_bundle" if metas[0].name == "export.meta" else "meta_graph"
        return meta_graph_case(directory, metas[0], kind)
    graphs = sorted(directory.glob("*.pb")) + sorted(directory.glob("*.pbtxt"))
    if graphs:
        return graph_def_case(directory, graphs[0])
    return None


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind in "fc":
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))
    return a.shape == b.shape and bool(np.array_equal(a, b))


def mark_nondeterministic(rec: Recorder, again: Recorder) -> None:
    """Outputs that differ between two TensorFlow runs of the same inputs (e.g. variables
    initialised by unseeded random ops): savedmodel can match only their dtype and shape."""
    differ = sorted(
        k for k, v in rec.outputs.items() if k not in again.outputs or not _same(v, again.outputs[k])
    )
    if differ:
        rec.meta["nondeterministic"] = differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated folder names")
    parser.add_argument("--root", type=Path, default=FIXTURES, help="folder of model folders")
    args = parser.parse_args()
    only = {n for n in args.only.split(",") if n}
    for directory in sorted(p for p in args.root.iterdir() if p.is_dir()):
        if only and directory.name not in only:
            continue
        rec = make_case(directory)
        if rec is None:
            print(f"{directory.name}: no model found")
            continue
        mark_nondeterministic(rec, make_case(directory))
        rec.write()
        runs = rec.meta["runs"]
        ok = sum(r["status"] == "ok" for r in runs)
        errors = "; ".join(r.get("error", "")[:120] for r in runs if r["status"] != "ok")
        print(f"{directory.name}: {ok}/{len(runs)} runs ok {errors}")


if __name__ == "__main__":
    main()
