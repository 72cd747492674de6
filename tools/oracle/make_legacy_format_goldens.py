"""Goldens for legacy formats: Snappy-indexed SavedModels, TF Serving session bundles, V1 checkpoints.

Run: TF_CPP_MIN_LOG_LEVEL=3 tools/oracle/.venv/bin/python tools/oracle/make_legacy_format_goldens.py

Writes, with TensorFlow 2.21:
- tests/fixtures/legacy/goldens.json:
  - "saved_models": for real-world SavedModels whose variables.index has Snappy blocks,
    every signature run on fixed inputs (tf.compat.v1.saved_model.load);
  - "session_bundles": for TF Serving session bundles, what TF Serving's loader does by
    hand (import export.meta, or its serving_graph; run the saver's restore op with the
    filename tensor fed `export` or `export-?????-of-?????`; run serving_init_op with the
    asset files fed) and the tensors of the `serving_default` SignatureDef its bundle shim
    derives from the manifest, written out here per model;
  - "v1_files": the tensors of the V1 checkpoint files below, as TensorFlow reads them;
  - "v1_ops": the outputs of the v1_checkpoint_ops SavedModel's signatures.
- tests/fixtures/legacy/v1_sliced: a V1 checkpoint written by SaveSlices (a tensor saved as
  two slices, plus whole tensors of several dtypes), and v1_sharded-0000N-of-00002 (Save, two shards).
- tests/fixtures/legacy/v1_checkpoint_ops/: a TF1 SavedModel whose signatures run Save,
  SaveSlices, Restore, RestoreSlice and RestoreV2 (on a V1 file) on a path fed as input.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2

ROOT = Path(__file__).resolve().parents[2]
REALWORLD = ROOT / "tests" / "fixtures" / "realworld"
OUT = ROOT / "tests" / "fixtures" / "legacy"

SNAPPY_SAVED_MODELS = [
    "tfserving__saved_model_half_plus_two_cpu__2019_3ba8a6d",
    "tfserving__saved_model_half_plus_two_cpu_with_saved_model_config__2023_eb5b3a5",
    "tfserving__saved_model_half_plus_two_cpu_with_saved_model_config__2024_5c0299e",
    "tfserving__saved_model_half_plus_two_mlmd__2020_4f8d3b7",
    "tfserving__saved_model_half_plus_two_gpu_trt__2020_28f812d",
    "tfserving__saved_model_half_plus_two_tf2_cpu__2020_b724ced",
    "tfserving__saved_model_half_plus_two_tf2_cpu__2023_45bc291",
]

# What TF Serving's bundle shim makes of each bundle's manifest (see
# savedmodel/format/session_bundle.py): the serving_default SignatureDef.
SESSION_BUNDLES = {
    # Named generic signatures inputs/outputs -> predict.
    "tfserving__half_plus_two__2016_27a9c35": {
        "method": "tensorflow/serving/predict",
        "inputs": {"x": "Placeholder:0"},
        "outputs": {"y": "Add:0"},
    },
    "tfserving__half_plus_two__2016_f83efee": {
        "method": "tensorflow/serving/predict",
        "inputs": {"x": "Placeholder:0"},
        "outputs": {"y": "Add:0"},
    },
    "tfserving__half_plus_two2__2017_6058fd6": {
        "method": "tensorflow/serving/predict",
        "inputs": {"x": "Placeholder:0"},
        "outputs": {"y": "Add:0"},
    },
    "tfserving__half_plus_two_2_versions__2017_be208d5": {
        "method": "tensorflow/serving/predict",
        "inputs": {"x": "Placeholder:0"},
        "outputs": {"y": "Add:0"},
    },
    # A regression default signature -> regress; V1 sharded checkpoint read by RestoreV2.
    "tfserving__session_bundle_testdata_half_plus_two__2019_1bdd349": {
        "method": "tensorflow/serving/regress",
        "inputs": {"inputs": "tf_example:0"},
        "outputs": {"outputs": "Identity:0"},
    },
    # No serving_signatures at all: loads, with no SignatureDef; only its variables are checked.
    "tfserving__bad_half_plus_two__2016_c49fd96": {"method": "", "inputs": {}, "outputs": {}},
}

X = [1.0, 2.0, 5.0]


def examples() -> list[bytes]:
    out = []
    for value in X:
        example = tf.train.Example()
        example.features.feature["x"].float_list.value.append(value)
        example.features.feature["x2"].float_list.value.append(value * 2)
        out.append(example.SerializeToString())
    return out


def jsonable(value) -> dict:
    value = np.asarray(value)
    if value.dtype == object or value.dtype.kind == "S":
        flat = [base64.b64encode(bytes(v)).decode() for v in value.reshape(-1)]
        return {"dtype": "bytes_b64", "shape": list(value.shape), "value": flat}
    if value.dtype == np.float16:
        return {"dtype": "float16", "shape": list(value.shape), "value": value.astype(float).tolist()}
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.tolist()}


def input_for(info) -> np.ndarray:
    if info.dtype == tf.string.as_datatype_enum:
        return np.array(examples(), dtype=object)
    dims = [d.size for d in info.tensor_shape.dim]
    dtype = tf.dtypes.as_dtype(info.dtype).as_numpy_dtype
    if info.tensor_shape.unknown_rank or not dims:
        return np.array(X, dtype=dtype)
    shape = [3 if d < 0 else d for d in dims]
    return np.resize(np.array(X, dtype=dtype), shape)


def saved_model_goldens() -> dict:
    out = {}
    for name in SNAPPY_SAVED_MODELS:
        graph = tf.Graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            meta_graph = tf.compat.v1.saved_model.load(sess, ["serve"], str(REALWORLD / name))
            cases = {}
            for key, signature in sorted(meta_graph.signature_def.items()):
                if key.startswith("__"):
                    continue
                inputs = {k: input_for(v) for k, v in signature.inputs.items()}
                feeds = {signature.inputs[k].name: v for k, v in inputs.items()}
                fetch_keys = sorted(signature.outputs)
                values = sess.run([signature.outputs[k].name for k in fetch_keys], feeds)
                cases[key] = {
                    "inputs": {k: jsonable(v) for k, v in inputs.items()},
                    "outputs": {k: jsonable(v) for k, v in zip(fetch_keys, values, strict=True)},
                }
        out[name] = cases
    return out


def variables_filename(export_dir: Path) -> str:
    if (export_dir / "export").exists() or (export_dir / "export.index").exists():
        return str(export_dir / "export")
    return str(export_dir / "export-?????-of-?????")


def session_bundle_goldens() -> dict:
    out = {}
    for name, signature in SESSION_BUNDLES.items():
        export_dir = REALWORLD / name
        meta_graph = tf.compat.v1.MetaGraphDef()
        meta_graph.ParseFromString((export_dir / "export.meta").read_bytes())
        graph_def = meta_graph.graph_def
        if "serving_graph" in meta_graph.collection_def:
            graph_def = tf.compat.v1.GraphDef()
            graph_def.ParseFromString(meta_graph.collection_def["serving_graph"].any_list.value[0].value)
        graph = tf.Graph()
        with graph.as_default():
            tf.graph_util.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            saver = meta_graph.saver_def
            sess.run(saver.restore_op_name, {saver.filename_tensor_name: variables_filename(export_dir)})
            if "serving_init_op" in meta_graph.collection_def:
                assets = {}
                for item in meta_graph.collection_def["serving_assets"].any_list.value:
                    # tensorflow.serving.AssetFile: tensor_binding (1) {tensor_name (1)}, filename (2)
                    asset = meta_graph_pb2.AssetFileDef()  # same field numbers and types
                    asset.ParseFromString(item.value)
                    assets[asset.tensor_info.name] = str(export_dir / "assets" / asset.filename)
                sess.run(meta_graph.collection_def["serving_init_op"].node_list.value[0], assets)
            variables = {}
            for node in graph_def.node:
                if node.op in ("Variable", "VariableV2"):
                    try:
                        value = sess.run(node.name + ":0")
                        if isinstance(value, bytes):  # asset paths the init op stored: made portable
                            value = value.replace(str(export_dir).encode(), b"<export_dir>")
                        variables[node.name] = jsonable(value)
                    except tf.errors.FailedPreconditionError:  # neither restored nor initialized
                        variables[node.name] = None
            case = {**signature, "variables": variables}
            if signature["inputs"]:
                ((key, tensor),) = signature["inputs"].items()
                dtype = graph.get_tensor_by_name(tensor).dtype
                value = np.array(examples(), dtype=object) if dtype == tf.string else np.array(X, np.float32)
                fetch_keys = sorted(signature["outputs"])
                values = sess.run([signature["outputs"][k] for k in fetch_keys], {tensor: value})
                case["feed"] = {key: jsonable(value)}
                case["results"] = {k: jsonable(v) for k, v in zip(fetch_keys, values, strict=True)}
        out[name] = case
    return out


V1_TENSORS = {
    "f32": np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
    "f64": np.array([1.5, -2.25], dtype=np.float64),
    "i32": np.array([[1, -2], [3, 4]], dtype=np.int32),
    "i64": np.array(2**40, dtype=np.int64),
    "b": np.array([True, False, True]),
    "s": np.array([b"ab", b"", b"\x00\xff"], dtype=object),
    "u8": np.array([0, 255], dtype=np.uint8),
    "h": np.array([0.5, -1.0], dtype=np.float16),
}
PARTITIONED = np.arange(12, dtype=np.float32).reshape(4, 3) + 0.5


def write_v1_files() -> dict:
    sliced = OUT / "v1_sliced"
    names = ["part", "part", *V1_TENSORS]
    specs = ["4 3 0,2:-", "4 3 2,2:-", *[""] * len(V1_TENSORS)]
    data = [PARTITIONED[:2], PARTITIONED[2:], *V1_TENSORS.values()]
    tf.raw_ops.SaveSlices(filename=str(sliced), tensor_names=names, shapes_and_slices=specs, data=data)
    shards = {0: ["f32", "s"], 1: ["i64", "b"]}
    for shard, keys in shards.items():
        path = tf.raw_ops.ShardedFilename(basename=str(OUT / "v1_sharded"), shard=shard, num_shards=2)
        tf.raw_ops.Save(filename=path, tensor_names=keys, data=[V1_TENSORS[k] for k in keys])
    files = {}
    for key, pattern in (("v1_sliced", str(sliced)), ("v1_sharded", str(OUT / "v1_sharded-?????-of-00002"))):
        keys = ["part", *V1_TENSORS] if key == "v1_sliced" else [k for ks in shards.values() for k in ks]
        tensors = {}
        for k in keys:
            dtype = (
                tf.float32
                if k == "part"
                else tf.dtypes.as_dtype(V1_TENSORS[k].dtype if k != "s" else tf.string)
            )
            tensors[k] = jsonable(tf.raw_ops.Restore(file_pattern=pattern, tensor_name=k, dt=dtype).numpy())
        files[key] = tensors
    files["v1_sliced_parts"] = {
        "1 4 3 1,2:0,2": jsonable(
            tf.raw_ops.RestoreSlice(
                file_pattern=str(sliced), tensor_name="part", shape_and_slice="4 3 1,2:0,2", dt=tf.float32
            ).numpy()
        ),
    }
    return files


def v1_ops_model() -> dict:
    """A TF1 SavedModel whose signatures write and read V1 checkpoints at a path fed as input."""
    target = OUT / "v1_checkpoint_ops"
    shutil.rmtree(target, ignore_errors=True)
    graph = tf.Graph()
    with graph.as_default():
        prefix = tf.compat.v1.placeholder(tf.string, [], name="prefix")
        x = tf.compat.v1.placeholder(tf.float32, [4, 3], name="x")
        words = tf.constant([b"a", b"bc"], name="words")
        whole = tf.strings.join([prefix, "_whole"])
        parts = tf.strings.join([prefix, "_parts"])
        save = tf.raw_ops.Save(filename=whole, tensor_names=["x", "words"], data=[x, words])
        save_slices = tf.raw_ops.SaveSlices(
            filename=parts,
            tensor_names=["x", "x"],
            shapes_and_slices=["4 3 0,1:-", "4 3 1,3:-"],
            data=[x[:1], x[1:]],
        )
        with tf.control_dependencies([save, save_slices]):
            restored_x = tf.raw_ops.Restore(file_pattern=whole, tensor_name="x", dt=tf.float32)
            restored_words = tf.raw_ops.Restore(file_pattern=whole, tensor_name="words", dt=tf.string)
            corner = tf.raw_ops.RestoreSlice(
                file_pattern=parts, tensor_name="x", shape_and_slice="4 3 1,2:1,2", dt=tf.float32
            )
            (v2_x,) = tf.raw_ops.RestoreV2(
                prefix=parts, tensor_names=["x"], shape_and_slices=[""], dtypes=[tf.float32]
            )
        signature = tf.compat.v1.saved_model.predict_signature_def(
            inputs={"prefix": prefix, "x": x},
            outputs={"x": restored_x, "words": restored_words, "corner": corner, "v2_x": v2_x},
        )
        with tf.compat.v1.Session(graph=graph) as sess:
            builder = tf.compat.v1.saved_model.Builder(str(target))
            builder.add_meta_graph_and_variables(
                sess, ["serve"], signature_def_map={"save_restore": signature}
            )
            builder.save()
            value = (np.arange(12, dtype=np.float32).reshape(4, 3) - 3) / 2
            work = Path(tempfile.mkdtemp())
            outputs = sess.run(
                {"x": restored_x, "words": restored_words, "corner": corner, "v2_x": v2_x},
                {prefix: str(work / "ckpt"), x: value},
            )
    return {"save_restore": {"x": jsonable(value), "outputs": {k: jsonable(v) for k, v in outputs.items()}}}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    golden = {
        "tensorflow": tf.__version__,
        "saved_models": saved_model_goldens(),
        "session_bundles": session_bundle_goldens(),
        "v1_files": write_v1_files(),
    }
    golden["v1_ops"] = v1_ops_model()
    (OUT / "goldens.json").write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}/goldens.json")


if __name__ == "__main__":
    main()
