"""Write tests/fixtures/convert: small TF1 SavedModels of several kinds for `savedmodel convert`,
plus goldens.json (per model, per signature: the inputs fed and what TF 2.21's TF1 loader
computes for them).

Run with the oracle venv:

    TF_CPP_MIN_LOG_LEVEL=3 tools/oracle/.venv/bin/python tools/oracle/make_convert_fixtures.py

Models:
  builder_ref     Builder, ref variables (VariableV2), a global step, predict signature y = x @ w + b
  simple_save     simple_save, resource variables, two outputs
  examples        tf.Example parsing: classify, regress and predict signatures sharing variables
  while_loop      a v1 while loop (Enter/Merge/Switch/Exit) over a variable
  table_asset     a string -> id hash table initialised from an asset file (legacy_init_op), plus
                  an int64 -> string table from constants
  partitioned     an embedding variable in 3 partitions (slices of one checkpoint tensor)
  ref_cond        a v1 cond (Switch/Merge) over a reference variable
  local_var       a local variable (not checkpointed; the main_op initialises it)

`make_convert_fixtures.py NAME...` rewrites only those models (and their goldens).
plain_goldens.json: for each signature over serialized tf.Examples, the features TF's parse op
gives for the golden examples, as `--plain_inputs` feeds them (the outputs are goldens.json's);
`make_convert_fixtures.py --plain` rewrites only that file; `--goldens` the goldens of the
Estimator exports that make_estimator_fixtures.py (TF 2.15) wrote, and plain_goldens.json.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow.compat.v1 as tf1  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE.parent.parent / "tests" / "fixtures" / "convert"

tf1.disable_eager_execution()
tf1.disable_control_flow_v2()


def _example(x: list[float], k: float | None = None) -> bytes:
    feature = {"x": tf.train.Feature(float_list=tf.train.FloatList(value=x))}
    if k is not None:
        feature["k"] = tf.train.Feature(float_list=tf.train.FloatList(value=[k]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _encode(value: np.ndarray) -> dict:
    value = np.asarray(value)
    if value.dtype == object or value.dtype.kind in "SU":
        flat = [v if isinstance(v, bytes) else str(v).encode() for v in value.ravel()]
        try:
            return {"dtype": "object", "shape": list(value.shape), "value": [v.decode() for v in flat]}
        except UnicodeDecodeError:  # serialized protos: base64
            encoded = [base64.b64encode(v).decode() for v in flat]
            return {"dtype": "base64", "shape": list(value.shape), "value": encoded}
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.tolist()}


def _builder(path: Path, sess: tf1.Session, signatures: dict, **kwargs: object) -> None:
    builder = tf1.saved_model.Builder(str(path))
    builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map=signatures, **kwargs)
    builder.save()


def builder_ref(path: Path) -> dict:
    with tf.Graph().as_default(), tf1.Session() as sess:
        x = tf1.placeholder(tf.float32, [None, 3], name="x")
        w = tf1.Variable(np.arange(6, dtype=np.float32).reshape(3, 2) / 4, name="w", use_resource=False)
        b = tf1.Variable([0.5, -1.0], name="b", use_resource=False)
        step = tf1.train.get_or_create_global_step()
        tf1.assign_add(step, 1, name="increment")
        y = tf.add(tf.matmul(x, w), b, name="y")
        sess.run(tf1.global_variables_initializer())
        sig = tf1.saved_model.predict_signature_def({"x": x}, {"y": y})
        _builder(path, sess, {"serving_default": sig})
    return {"serving_default": {"x": np.array([[1, 2, 3], [-1, 0, 0.5]], np.float32)}}


def simple_save(path: Path) -> dict:
    with tf.Graph().as_default(), tf1.Session() as sess:
        x = tf1.placeholder(tf.float32, [None], name="input")
        scale = tf1.get_variable("scale", initializer=3.0, use_resource=True)
        shift = tf1.get_variable("dense/shift", initializer=np.float32([1.0, 2.0]), use_resource=True)
        out = tf.multiply(x, scale, name="scaled") + tf.reduce_sum(shift)
        count = tf.size(x, name="count")
        sess.run(tf1.global_variables_initializer())
        tf1.saved_model.simple_save(sess, str(path), inputs={"input": x}, outputs={"output": out, "n": count})
    return {"serving_default": {"input": np.array([1.0, 2.0, 5.0], np.float32)}}


def examples(path: Path) -> dict:
    with tf.Graph().as_default(), tf1.Session() as sess:
        serialized = tf1.placeholder(tf.string, [None], name="tf_example")
        features = tf1.io.parse_example(
            serialized,
            {
                "x": tf1.io.FixedLenFeature([2], tf.float32),
                "k": tf1.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
            },
        )
        w = tf1.get_variable("w", initializer=np.float32([[0.5], [-2.0]]), use_resource=False)
        logits = tf.matmul(features["x"], w) + features["k"]
        scores = tf.concat([tf.sigmoid(logits), 1 - tf.sigmoid(logits)], 1, name="scores")
        batch = tf.shape(serialized)[0]
        classes = tf.tile(tf.constant([["pos", "neg"]]), [batch, 1], name="classes")
        regression = tf.identity(logits, name="regression")
        sess.run(tf1.global_variables_initializer())
        su = tf1.saved_model.signature_def_utils
        signatures = {
            "serving_default": su.classification_signature_def(serialized, classes, scores),
            "classify": su.classification_signature_def(serialized, classes, scores),
            "regress": su.regression_signature_def(serialized, regression),
            "predict": su.predict_signature_def({"examples": serialized}, {"logits": logits}),
        }
        _builder(path, sess, signatures)
    batch = np.array([_example([1.0, 2.0]), _example([-1.0, 0.25], k=3.0)], dtype=object)
    return {name: {("examples" if name == "predict" else "inputs"): batch} for name in signatures}


def while_loop(path: Path) -> dict:
    with tf.Graph().as_default(), tf1.Session() as sess:
        x = tf1.placeholder(tf.float32, [None], name="x")
        n = tf1.placeholder(tf.int32, [], name="n")
        decay = tf1.get_variable("decay", initializer=0.5, use_resource=False)

        def body(i: tf.Tensor, acc: tf.Tensor) -> tuple:
            return i + 1, acc * decay + tf.cast(i, tf.float32)

        _, result = tf1.while_loop(lambda i, acc: i < n, body, [tf.constant(0), x])
        result = tf.identity(result, name="result")
        sess.run(tf1.global_variables_initializer())
        sig = tf1.saved_model.predict_signature_def({"x": x, "n": n}, {"result": result})
        _builder(path, sess, {"serving_default": sig})
    return {"serving_default": {"x": np.array([1.0, 4.0], np.float32), "n": np.array(5, np.int32)}}


def table_asset(path: Path) -> dict:
    vocab = OUT / "_vocab.txt"
    vocab.parent.mkdir(parents=True, exist_ok=True)
    vocab.write_text("apple\nbanana\ncherry\n")
    with tf.Graph().as_default(), tf1.Session() as sess:
        words = tf1.placeholder(tf.string, [None], name="words")
        ids_in = tf1.placeholder(tf.int64, [None], name="ids")
        vocab_file = tf.constant(str(vocab), name="vocab_file")
        tf1.add_to_collection(tf1.GraphKeys.ASSET_FILEPATHS, vocab_file)
        table = tf1.lookup.StaticHashTable(
            tf1.lookup.TextFileInitializer(
                vocab_file,
                tf.string,
                tf1.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64,
                tf1.lookup.TextFileIndex.LINE_NUMBER,
            ),
            default_value=-1,
        )
        names = tf1.lookup.StaticHashTable(
            tf1.lookup.KeyValueTensorInitializer(
                tf.constant([0, 1, 2], tf.int64), tf.constant(["zero", "one", "two"])
            ),
            default_value="?",
        )
        offset = tf1.get_variable("offset", initializer=tf.constant(10, tf.int64), use_resource=False)
        ids = tf.add(table.lookup(words), offset, name="word_ids")
        labels = tf.identity(names.lookup(ids_in), name="labels")
        sess.run(tf1.global_variables_initializer())
        sess.run(tf1.tables_initializer())
        sig = tf1.saved_model.predict_signature_def({"words": words}, {"ids": ids})
        sig2 = tf1.saved_model.predict_signature_def({"ids": ids_in}, {"labels": labels})
        _builder(
            path,
            sess,
            {"serving_default": sig, "labels": sig2},
            assets_collection=tf1.get_collection(tf1.GraphKeys.ASSET_FILEPATHS),
            main_op=tf1.tables_initializer(),
        )
    vocab.unlink()
    return {
        "serving_default": {"words": np.array([b"banana", b"kiwi", b"apple"], dtype=object)},
        "labels": {"ids": np.array([2, 0, 7], np.int64)},
    }


def partitioned(path: Path) -> dict:
    with tf.Graph().as_default(), tf1.Session() as sess:
        ids = tf1.placeholder(tf.int64, [None], name="ids")
        emb = tf1.get_variable(
            "emb",
            shape=[10, 4],
            initializer=tf1.random_normal_initializer(seed=3),
            partitioner=tf1.fixed_size_partitioner(3),
            use_resource=False,
        )
        vectors = tf.identity(tf.nn.embedding_lookup(emb, ids), name="vectors")
        sess.run(tf1.global_variables_initializer())
        sig = tf1.saved_model.predict_signature_def({"ids": ids}, {"vectors": vectors})
        _builder(path, sess, {"serving_default": sig})
    return {"serving_default": {"ids": np.array([0, 3, 4, 9, 7], np.int64)}}


def ref_cond(path: Path) -> dict:
    with tf.Graph().as_default(), tf1.Session() as sess:
        x = tf1.placeholder(tf.float32, [None], name="x")
        flag = tf1.placeholder(tf.bool, [], name="flag")
        w = tf1.Variable([2.0, 3.0], name="w", use_resource=False)
        # a v1 cond (Switch/Merge) over a reference variable
        picked = tf1.cond(flag, lambda: tf.identity(w), lambda: w * 10.0)
        y = tf.add(x, picked, name="y")
        sess.run(tf1.global_variables_initializer())
        sig = tf1.saved_model.predict_signature_def({"x": x, "flag": flag}, {"y": y})
        _builder(path, sess, {"serving_default": sig})
    return {"serving_default": {"x": np.array([1.0, 1.0], np.float32), "flag": np.array(False)}}


def local_var(path: Path) -> dict:
    with tf.Graph().as_default(), tf1.Session() as sess:
        x = tf1.placeholder(tf.float32, [None, 2], name="x")
        bias = tf1.get_local_variable("bias", initializer=tf.constant([[0.5, -1.5]]))
        scale = tf1.get_variable("scale", initializer=2.0, use_resource=False)
        y = tf.add(x * scale, bias, name="y")
        sess.run([tf1.global_variables_initializer(), tf1.local_variables_initializer()])
        sig = tf1.saved_model.predict_signature_def({"x": x}, {"y": y})
        _builder(path, sess, {"serving_default": sig}, main_op=tf1.local_variables_initializer())
    return {"serving_default": {"x": np.array([[1.0, 2.0]], np.float32)}}


MODELS = {
    f.__name__: f
    for f in (builder_ref, simple_save, examples, while_loop, table_asset, partitioned, ref_cond, local_var)
}


def tf1_outputs(path: Path, feeds: dict) -> dict:
    """Run each signature through TF's TF1 loader."""
    out = {}
    with tf.Graph().as_default(), tf1.Session() as sess:
        meta = tf1.saved_model.load(sess, ["serve"], str(path))
        for key, inputs in feeds.items():
            sig = meta.signature_def[key]
            fetch_names = sorted(sig.outputs)
            fetches = [sig.outputs[k].name for k in fetch_names]
            feed = {sig.inputs[k].name: v for k, v in inputs.items()}
            values = sess.run(fetches, feed)
            out[key] = {k: _encode(v) for k, v in zip(fetch_names, values, strict=False)}
    return out


def _parse_op(graph: tf.Graph, tensor_name: str) -> tf.Operation | None:
    """The ParseExample(V2) op reading `tensor_name` (directly or through Identity)."""
    names = {tensor_name}
    for op in graph.get_operations():
        if op.type == "Identity" and op.inputs[0].name in names:
            names.add(op.outputs[0].name)
    for op in graph.get_operations():
        if op.type in ("ParseExample", "ParseExampleV2") and op.inputs[0].name in names:
            return op
    return None


def plain_features(path: Path, feeds: dict) -> dict:
    """For each signature over serialized tf.Examples: the features TF's parse op gives for the
    golden examples, keyed as `--plain_inputs` names them (a sparse feature f: f_indices,
    f_values, f_dense_shape)."""
    out = {}
    with tf.Graph().as_default() as graph, tf1.Session() as sess:
        meta = tf1.saved_model.load(sess, ["serve"], str(path))
        for key, inputs in feeds.items():
            sig = meta.signature_def[key]
            for name, value in inputs.items():
                op = _parse_op(graph, sig.inputs[name].name)
                if op is None:
                    continue
                if op.type == "ParseExampleV2":
                    sparse = [k.decode() for k in sess.run(op.inputs[2]).ravel()]
                    dense = [k.decode() for k in sess.run(op.inputs[3]).ravel()]
                else:
                    n_sparse, n_dense = op.get_attr("Nsparse"), op.get_attr("Ndense")
                    keys = [sess.run(t).item().decode() for t in op.inputs[2 : 2 + n_sparse + n_dense]]
                    sparse, dense = keys[:n_sparse], keys[n_sparse:]
                n = len(sparse)
                plain = {}
                for i, feature in enumerate(sparse):
                    plain[f"{feature}_indices"] = op.outputs[i]
                    plain[f"{feature}_values"] = op.outputs[n + i]
                    plain[f"{feature}_dense_shape"] = op.outputs[2 * n + i]
                for i, feature in enumerate(dense):
                    plain[feature] = op.outputs[3 * n + i]
                values = sess.run(plain, {sig.inputs[name].name: value})
                out.setdefault(key, {"inputs": {}})["inputs"].update(
                    {k: _encode(v) for k, v in values.items()}
                )
    return out


def main(names: list[str]) -> None:
    """Write the models named (all when none), keeping the other goldens."""
    golden_path = OUT / "goldens.json"
    goldens = json.loads(golden_path.read_text()) if names and golden_path.exists() else {}
    for name, make in MODELS.items():
        if names and name not in names:
            continue
        path = OUT / name
        shutil.rmtree(path, ignore_errors=True)
        feeds = make(path)
        goldens[name] = {
            key: {"inputs": {k: _encode(v) for k, v in inputs.items()}, "outputs": {}}
            for key, inputs in feeds.items()
        }
        for key, outputs in tf1_outputs(path, feeds).items():
            goldens[name][key]["outputs"] = outputs
        print("wrote", path)
    golden_path.write_text(json.dumps(goldens, indent=1, sort_keys=True) + "\n")
    estimator_goldens()
    write_plain_goldens()


def _decode(entry: dict) -> np.ndarray:
    if entry["dtype"] == "base64":
        values = [base64.b64decode(v) for v in entry["value"]]
        return np.array(values, dtype=object).reshape(entry["shape"])
    if entry["dtype"] == "object":
        return np.array([v.encode() for v in np.ravel(entry["value"])], dtype=object).reshape(entry["shape"])
    return np.array(entry["value"], dtype=entry["dtype"]).reshape(entry["shape"])


def write_plain_goldens() -> None:
    """plain_goldens.json for every model of goldens.json (the models themselves untouched)."""
    goldens = json.loads((OUT / "goldens.json").read_text())
    plain = {}
    for name, cases in sorted(goldens.items()):
        feeds = {key: {k: _decode(v) for k, v in case["inputs"].items()} for key, case in cases.items()}
        features = plain_features(OUT / name, feeds)
        if features:
            plain[name] = features
    (OUT / "plain_goldens.json").write_text(json.dumps(plain, indent=1, sort_keys=True) + "\n")


def estimator_goldens() -> None:
    """Goldens of the Estimator exports (make_estimator_fixtures.py): every signature fed the
    serialized examples of estimator_feeds.json, computed by TF 2.21's TF1 loader."""
    feeds_path = OUT / "estimator_feeds.json"
    if not feeds_path.exists():
        return
    golden_path = OUT / "goldens.json"
    goldens = json.loads(golden_path.read_text())
    for name, encoded in json.loads(feeds_path.read_text()).items():
        batch = _decode(encoded)
        with tf.Graph().as_default(), tf1.Session() as sess:
            meta = tf1.saved_model.load(sess, ["serve"], str(OUT / name))
            keys = sorted(k for k in meta.signature_def if not k.startswith("__"))
            feeds = {key: {next(iter(meta.signature_def[key].inputs)): batch} for key in keys}
        goldens[name] = {
            key: {"inputs": {k: _encode(v) for k, v in inputs.items()}, "outputs": {}}
            for key, inputs in feeds.items()
        }
        for key, outputs in tf1_outputs(OUT / name, feeds).items():
            goldens[name][key]["outputs"] = outputs
        print("goldens of", name)
    golden_path.write_text(json.dumps(goldens, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--plain"]:
        write_plain_goldens()
    elif sys.argv[1:] == ["--goldens"]:
        estimator_goldens()
        write_plain_goldens()
    else:
        main(sys.argv[1:])
