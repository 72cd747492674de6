"""Frozen-graph fixtures and goldens: TensorFlow runs the programs the tests run with savedmodel.

    tools/oracle/.venv/bin/python tools/oracle/make_graphdef_goldens.py

Writes under tests/fixtures/graphdef/:
* multi_output.pbtxt: a text GraphDef of multi-output ops (Split, SplitV, Unique,
  UniqueWithCounts, TopKV2, ShapeN, ListDiff, DynamicPartition, BroadcastGradientArgs,
  FusedBatchNormV3, Unpack) fed by one placeholder, `values` (float32 [6]);
* goldens.json: for each program in programs/*.txt, the RESULT dict it builds when run
  by TensorFlow 2.21 (the tests run the same text with `import tensorflow as tf`
  replaced by `from savedmodel import tf`), and the values of the CLI cases
  (`savedmodel run --graph`) in CLI_CASES.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow.compat.v1 as tf1  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "graphdef"
MODELS = ROOT / "tests" / "fixtures" / "realworld"

# (case name, graph file under tests/fixtures, feeds {tensor name: value}, fetches).
CLI_CASES = [
    (
        "fc-layers",
        "realworld/tf2onnx__fc-layers__2018_c6dca6c/frozen.pb",
        {"X:0": np.linspace(0.0, 1.0, 784, dtype=np.float32).reshape(1, 784)},
        ["output:0"],
    ),
    (
        "lstm",
        "realworld/tf2onnx__lstm__2018_c6dca6c/frozen.pb",
        {"X:0": np.ones((2, 784), np.float32), "keep_prob:0": np.float32(1.0)},
        ["output:0"],
    ),
    ("plus3", "realworld/tract__models__2018_8da9b8a/plus3.pb", {"input:0": np.float32(4.0)}, ["output:0"]),
    (
        "addition",
        "realworld/tfrust__addition__2019_18db708/model.pb",
        {"x:0": np.array([1, 2], np.int32), "y:0": np.array([10, 20], np.int32)},
        ["z:0"],
    ),
    (
        "multi_output",
        "graphdef/multi_output.pbtxt",
        {"values:0": np.array([5.0, 1.0, 3.0, 1.0, 5.0, 2.0], np.float32)},
        ["unique:1", "topk:0", "bn:0"],
    ),
]


def jsonable(value):
    if hasattr(value, "numpy"):
        value = value.numpy()
    value = np.asarray(value)
    if value.dtype == object or value.dtype.kind == "S":
        flat = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in value.reshape(-1)]
        return {"dtype": "string", "shape": list(value.shape), "value": flat}
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.tolist()}


def write_multi_output() -> None:
    graph = tf.Graph()
    with graph.as_default():
        values = tf1.placeholder(tf.float32, [6], name="values")
        matrix = tf.reshape(values, [2, 3], name="matrix")
        tf.split(values, 3, name="split")
        tf.split(values, [1, 2, 3], name="splitv")
        tf.unique(values, name="unique")
        tf.unique_with_counts(values, name="unique_counts")
        tf.math.top_k(values, k=3, name="topk")
        tf.shape_n([values, matrix], name="shapes")
        tf1.setdiff1d(values, tf.constant([1.0, 2.0]), name="setdiff")
        tf.dynamic_partition(values, tf.constant([0, 1, 2, 0, 1, 2]), 3, name="partition")
        tf.raw_ops.BroadcastGradientArgs(s0=tf.constant([2, 1, 3]), s1=tf.constant([4, 3]), name="bcast")
        tf.raw_ops.FusedBatchNormV3(
            x=tf.reshape(values, [1, 1, 2, 3]),
            scale=tf.constant([1.0, 2.0, 3.0]),
            offset=tf.constant([0.0, 0.5, 1.0]),
            mean=tf.constant([1.0, 2.0, 3.0]),
            variance=tf.constant([1.0, 1.0, 4.0]),
            is_training=False,
            name="bn",
        )
        tf.unstack(matrix, name="unstack")
    tf.io.write_graph(graph.as_graph_def(), str(OUT), "multi_output.pbtxt", as_text=True)


def run_program(path: Path) -> dict:
    namespace = {"MODELS": str(MODELS), "FIXTURES": str(OUT), "RESULT": {}, "__name__": "__program__"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return {key: jsonable(value) for key, value in namespace["RESULT"].items()}


def run_cli_case(graph_file: str, feeds: dict, fetches: list[str]) -> dict:
    graph_def = tf1.GraphDef()
    data = (ROOT / "tests" / "fixtures" / graph_file).read_bytes()
    if graph_file.endswith(".pbtxt"):
        from google.protobuf import text_format

        text_format.Merge(data.decode(), graph_def)
    else:
        graph_def.ParseFromString(data)
    with tf.Graph().as_default() as graph:
        tf1.import_graph_def(graph_def, name="")
        with tf1.Session(graph=graph) as sess:
            values = sess.run(fetches, feeds)
    return {name: jsonable(value) for name, value in zip(fetches, values, strict=True)}


def graph_view(graph_file: str) -> dict:
    """What TensorFlow makes of a GraphDef's placeholders and sinks once imported."""
    graph_def = tf1.GraphDef()
    data = (ROOT / "tests" / "fixtures" / graph_file).read_bytes()
    if graph_file.endswith(".pbtxt"):
        from google.protobuf import text_format

        text_format.Merge(data.decode(), graph_def)
    elif graph_file.endswith(".meta"):
        graph_def = tf1.MetaGraphDef.FromString(data).graph_def
    else:
        graph_def.ParseFromString(data)
    used = {ref.lstrip("^").split(":")[0] for node in graph_def.node for ref in node.input}
    with tf.Graph().as_default() as graph:
        tf1.import_graph_def(graph_def, name="")
    inputs, outputs, targets = [], [], []
    for op in graph.get_operations():
        if op.type in ("Placeholder", "PlaceholderWithDefault"):
            shape = op.outputs[0].shape
            inputs.append(
                {
                    "name": op.outputs[0].name,
                    "dtype": op.outputs[0].dtype.as_datatype_enum,
                    "shape": None
                    if shape.rank is None
                    else [-1 if d is None else d for d in shape.as_list()],
                }
            )
        elif op.name not in used:
            if op.outputs:
                outputs.extend({"name": t.name, "dtype": t.dtype.as_datatype_enum} for t in op.outputs)
            else:
                targets.append(op.name)
    ops = sorted({node.op for node in graph_def.node})
    return {"inputs": inputs, "outputs": outputs, "targets": targets, "ops": ops}


SHOW_FILES = [
    "realworld/tf2onnx__gru__2018_909ad50/frozen.pb",
    "realworld/tf2onnx__ae0__2018_c6dca6c/frozen.pb",
    "realworld/tfrust__regression__2018_dbfa9dc/model.pb",
    "realworld/tfrust__regression_checkpoint__2018_2acd431/model.pb",
    "realworld/tfrust__addition__2024_abb3131/model.pb",
    "realworld/tfrust__tensorflow-sys_assets__2016_01562f2/multiplication.pb",
    "graphdef/multi_output.pbtxt",
    "realworld/tf2onnx__regression_checkpoint__2019_b420b28/model.meta",
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    write_multi_output()
    goldens = {"programs": {}, "cli": {}, "show": {name: graph_view(name) for name in SHOW_FILES}}
    for path in sorted((OUT / "programs").glob("*.txt")):
        goldens["programs"][path.stem] = run_program(path)
    for name, graph_file, feeds, fetches in CLI_CASES:
        goldens["cli"][name] = {
            "graph": graph_file,
            "feeds": {k: jsonable(v) for k, v in feeds.items()},
            "outputs": run_cli_case(graph_file, feeds, fetches),
        }
    (OUT / "goldens.json").write_text(json.dumps(goldens, sort_keys=True) + "\n")
    print(f"wrote {OUT / 'goldens.json'}")


if __name__ == "__main__":
    main()
